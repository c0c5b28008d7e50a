import { Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { Clock, PepperRing } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import type { PrismaService } from '../database';
import { accessErrors } from './access.errors';
import { ApiKeyCache } from './api-key-cache';
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
  /** When this process last wrote each key's lastUsedAt (the cached row does not see it). */
  private readonly touchedAt = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeysRepository,
    private readonly clock: Clock,
    private readonly peppers: PepperRing,
    /** Absent on the command line, which never authenticates. */
    @Optional() private readonly cache?: ApiKeyCache,
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
      this.cache?.forgetId(id);
      this.logger.log({ apiKeyId: id }, 'API key revoked');
      return true;
    }
    if (await this.keys.exists(id)) return true;
    throw accessErrors.apiKeyNotFound();
  }

  /**
   * The caller a presented key stands for, or null when it is unknown or revoked.
   * Served from ApiKeyCache (under a hash of the key) while the row is unchanged.
   */
  async authenticate(presented: string): Promise<Caller | null> {
    const load = () => this.findStored(presented);
    const stored = await (this.cache ? this.cache.get(hashApiKey(presented), load) : load());
    if (!stored || stored.revokedAt) return null;
    this.touch(stored);
    return { apiKeyId: stored.id, name: stored.name, scopes: stored.scopes as Scope[] };
  }

  /**
   * The stored key a presented key is, revoked or not, under any form of its hash;
   * a chosen key's hash is brought up to the current form on the way.
   */
  private async findStored(presented: string): Promise<ApiKeyRecord | null> {
    const stored = await this.keys.findByAnyHash(apiKeyLookupHashes(presented, this.peppers));
    if (stored) await this.keepHashCurrent(stored, presented);
    return stored;
  }

  /** lastUsedAt, best effort and at most once a minute per process: not a write per request. */
  private touch(stored: ApiKeyRecord) {
    const now = this.clock.now().getTime();
    const last = Math.max(stored.lastUsedAt?.getTime() ?? 0, this.touchedAt.get(stored.id) ?? 0);
    if (now - last <= TOUCH_INTERVAL_MS) return;
    this.touchedAt.set(stored.id, now);
    this.keys.touch(stored.id, new Date(now)).catch(() => undefined);
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
