import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { DatabaseNotifications, NotifiedCache } from '../database';
import { PrivateKeyCache } from './crypto/private-key-cache';
import type { StoredKey } from './key-record';
import { KeysRepository } from './keys.repository';

/** The channel the ClientEncryptionKey triggers notify (migration cache_invalidation_notifications). */
export const DEVICE_KEY_CHANGED = 'kms_device_key_changed';
const MAX_CACHED_ROWS = 10_000;

/**
 * Device key rows (lifecycle columns and the wrapped private key) by id, so that
 * decryptData and encryptData make no database round trip. The lifecycle rules still
 * run on every request, on the row and the clock; what the cache must not miss is a
 * change to the row (revoked, deprecated, rotated, re-wrapped, deleted), which every
 * worker of every replica learns by notification (NotifiedCache). A key whose row
 * changed also leaves the unwrapped-key cache.
 */
@Injectable()
export class KeyRowCache {
  private readonly rows: NotifiedCache<StoredKey>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    notifications: DatabaseNotifications,
    private readonly keys: KeysRepository,
    privateKeys: PrivateKeyCache,
  ) {
    this.rows = new NotifiedCache<StoredKey>(notifications, {
      channel: DEVICE_KEY_CHANGED,
      max: MAX_CACHED_ROWS,
      maxAgeMs: config.cacheMaxAgeMs,
      onInvalidate: (keyId) => keyId !== undefined && privateKeys.forget(keyId),
    });
  }

  /** The stored row, wrapped private key included; null when there is none. */
  find(keyId: string): Promise<StoredKey | null> {
    return this.rows.get(keyId, () => this.keys.findStoredById(keyId));
  }

  /** This process changed the row: forget it now, before any notification. */
  forget(keyId: string) {
    this.rows.delete(keyId);
  }
}
