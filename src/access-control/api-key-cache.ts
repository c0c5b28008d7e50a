import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { DatabaseNotifications, NotifiedCache } from '../database';
import type { ApiKeyRecord } from './api-keys.repository';

/** The channel the ApiKey triggers notify (migration cache_invalidation_notifications). */
export const API_KEY_CHANGED = 'kms_api_key_changed';
const MAX_CACHED_KEYS = 10_000;

/**
 * API keys by a hash of the key presented, so that authenticating makes no database
 * round trip. Only keys found are kept (an unknown key is looked up every time). A
 * change to a key's row (revoked, scopes, deleted) reaches every worker of every
 * replica by notification, whose payload is the row's id.
 */
@Injectable()
export class ApiKeyCache {
  private readonly keys: NotifiedCache<ApiKeyRecord>;

  constructor(@Inject(APP_CONFIG) config: AppConfig, notifications: DatabaseNotifications) {
    this.keys = new NotifiedCache<ApiKeyRecord>(notifications, {
      channel: API_KEY_CHANGED,
      max: MAX_CACHED_KEYS,
      maxAgeMs: config.cacheMaxAgeMs,
      keysOf: (id) => this.keys.keysWhere((key) => key.id === id),
    });
  }

  /** `lookupKey` is a hash of the presented key, never the key. */
  get(lookupKey: string, load: () => Promise<ApiKeyRecord | null>): Promise<ApiKeyRecord | null> {
    return this.keys.get(lookupKey, load);
  }

  /** This process changed the key with this id: forget it now, before any notification. */
  forgetId(id: string) {
    for (const lookupKey of [...this.keys.keysWhere((key) => key.id === id)]) this.keys.delete(lookupKey);
  }
}
