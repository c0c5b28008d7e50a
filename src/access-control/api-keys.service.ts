import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock, PepperRing } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import type { PrismaService } from '../database';
import { accessErrors } from './access.errors';
import {
  apiKeyLookupHashes,
  CHOSEN_KEY_PREFIX,
  generateApiKey,
  hashApiKey,
  keyedApiKeyHash,
  visiblePrefix,
} from './api-key-secret';
import { ApiKeyRecord, ApiKeysRepository, StoredApiKey } from './api-keys.repository';
import type { Caller } from './caller';
import { Scope } from './scopes';

const TOUCH_INTERVAL_MS = 60_000;
export const BOOTSTRAP_KEY_NAME = 'bootstrap-admin';

/** Creation, listing, revocation and authentication of API keys. */
@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeysRepository,
    private readonly clock: Clock,
    private readonly peppers: PepperRing,
  ) {}

  /** The key is returned here and nowhere else, ever. */
  async create(name: string, scopes: Scope[]): Promise<{ apiKey: ApiKeyRecord; key: string }> {
    const key = generateApiKey();
    const apiKey = await this.keys.insert({
      name,
      keyHash: hashApiKey(key),
      prefix: visiblePrefix(key),
      scopes: [...new Set(scopes)],
      createdAt: this.clock.now(),
    });
    this.logger.log({ apiKeyId: apiKey.id, name, scopes: apiKey.scopes }, 'API key created');
    return { apiKey, key };
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.keys.list();
  }

  /** Revoking a revoked key is harmless; an unknown id is KEY_NOT_FOUND. */
  async revoke(id: string): Promise<boolean> {
    if (await this.keys.revoke(id, this.clock.now())) {
      this.logger.log({ apiKeyId: id }, 'API key revoked');
      return true;
    }
    if (await this.keys.exists(id)) return true;
    throw accessErrors.apiKeyNotFound();
  }

  /** The caller a presented key stands for, or null when it is unknown or revoked. */
  async authenticate(presented: string): Promise<Caller | null> {
    const stored = await this.keys.findByAnyHash(apiKeyLookupHashes(presented, this.peppers));
    if (!stored || stored.revokedAt) return null;
    await this.keepHashCurrent(stored, presented);
    const now = this.clock.now();
    if (!stored.lastUsedAt || now.getTime() - stored.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      // Best effort and at most once a minute: not a write per request.
      this.keys.touch(stored.id, now).catch(() => undefined);
    }
    return { apiKeyId: stored.id, name: stored.name, scopes: stored.scopes as Scope[] };
  }

  /**
   * A chosen key found under an older form (a plain SHA-256 from before keyed hashes,
   * or an older pepper) is re-hashed under the newest pepper while it is at hand.
   */
  private async keepHashCurrent(stored: StoredApiKey, presented: string) {
    if (stored.prefix !== CHOSEN_KEY_PREFIX) return;
    const current = keyedApiKeyHash(presented, this.peppers);
    if (stored.keyHash === current) return;
    await this.keys.replaceHash(stored.id, stored.keyHash, current).catch((error: unknown) =>
      this.logger.warn({ apiKeyId: stored.id, errorName: (error as Error)?.name }, 'API key hash not brought up to date'),
    );
  }

  /**
   * A fresh deployment gets its first admin key from KMS_BOOTSTRAP_ADMIN_KEY. Once any
   * admin key exists the variable is ignored, so removing a leaked bootstrap key
   * (revoke it) cannot be undone by a restart. The key is the operator's choice:
   * nothing of it is stored but a keyed hash (see keyedApiKeyHash).
   */
  async onApplicationBootstrap() {
    const key = this.config.access.bootstrapAdminKey;
    if (!key) return;
    const existing = await this.keys.findByAnyHash(apiKeyLookupHashes(key, this.peppers));
    if (existing) {
      await this.keepHashCurrent(existing, key);
      return;
    }
    if ((await this.keys.countActiveWithScope(Scope.ADMIN)) > 0) {
      this.logger.warn('KMS_BOOTSTRAP_ADMIN_KEY ignored: this deployment already has admin keys');
      return;
    }
    const created = await this.keys.insertIfAbsent({
      name: BOOTSTRAP_KEY_NAME,
      keyHash: keyedApiKeyHash(key, this.peppers),
      prefix: CHOSEN_KEY_PREFIX,
      scopes: [Scope.ADMIN],
      createdAt: this.clock.now(),
    });
    if (created) this.logger.log('bootstrap admin API key created from KMS_BOOTSTRAP_ADMIN_KEY');
  }
}

/** The service outside Nest, for the command line (`npm run -s apikeys`). */
export function standaloneApiKeysService(config: AppConfig, prisma: PrismaService, peppers: PepperRing): ApiKeysService {
  return new ApiKeysService(config, new ApiKeysRepository(prisma), new Clock(), peppers);
}
