import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import type { PrismaService } from '../database';
import { accessErrors } from './access.errors';
import { generateApiKey, hashApiKey, visiblePrefix } from './api-key-secret';
import { ApiKeyRecord, ApiKeysRepository } from './api-keys.repository';
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
    const stored = await this.keys.findByHash(hashApiKey(presented));
    if (!stored || stored.revokedAt) return null;
    const now = this.clock.now();
    if (!stored.lastUsedAt || now.getTime() - stored.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      // Best effort and at most once a minute: not a write per request.
      this.keys.touch(stored.id, now).catch(() => undefined);
    }
    return { apiKeyId: stored.id, name: stored.name, scopes: stored.scopes as Scope[] };
  }

  /**
   * A fresh deployment gets its first admin key from KMS_BOOTSTRAP_ADMIN_KEY. Once any
   * admin key exists the variable is ignored, so removing a leaked bootstrap key
   * (revoke it) cannot be undone by a restart.
   */
  async onApplicationBootstrap() {
    const key = this.config.access.bootstrapAdminKey;
    if (!key) return;
    const keyHash = hashApiKey(key);
    if (await this.keys.findByHash(keyHash)) return;
    if ((await this.keys.countActiveWithScope(Scope.ADMIN)) > 0) {
      this.logger.warn('KMS_BOOTSTRAP_ADMIN_KEY ignored: this deployment already has admin keys');
      return;
    }
    const created = await this.keys.insertIfAbsent({
      name: BOOTSTRAP_KEY_NAME,
      keyHash,
      prefix: visiblePrefix(key),
      scopes: [Scope.ADMIN],
      createdAt: this.clock.now(),
    });
    if (created) this.logger.log('bootstrap admin API key created from KMS_BOOTSTRAP_ADMIN_KEY');
  }
}

/** The service outside Nest, for the command line (`npm run -s apikeys`). */
export function standaloneApiKeysService(config: AppConfig, prisma: PrismaService): ApiKeysService {
  return new ApiKeysService(config, new ApiKeysRepository(prisma), new Clock());
}
