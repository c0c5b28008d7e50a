import type { webcrypto } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { MasterKeyRing } from './master-key-ring';
import { importPrivateKey } from './rsa';

const MAX_CACHED_KEYS = 10_000;
/** Bounds how long another replica's revocation or deletion leaves an unwrapped key in memory. */
const CACHE_TTL_MS = 10 * 60 * 1000;

interface StoredKey {
  id: string;
  privateKey: string;
}

/**
 * Unwrapped, imported private keys by key id. Unwrapping and parsing cost more
 * than the RSA operation itself; the cache never decides whether a key may be
 * used (the caller reads the row for that on every request), and an entry is
 * reused only while the stored wrapped value is unchanged.
 */
@Injectable()
export class PrivateKeyCache {
  private readonly cache = new LRUCache<string, { wrapped: string; key: Promise<webcrypto.CryptoKey> }>({
    max: MAX_CACHED_KEYS,
    ttl: CACHE_TTL_MS,
    ttlAutopurge: true,
  });

  constructor(private readonly ring: MasterKeyRing) {}

  get(stored: StoredKey): Promise<webcrypto.CryptoKey> {
    const hit = this.cache.get(stored.id);
    if (hit && hit.wrapped === stored.privateKey) return hit.key;
    const key = importPrivateKey(this.ring.unwrap(stored.id, stored.privateKey));
    this.cache.set(stored.id, { wrapped: stored.privateKey, key });
    key.catch(() => this.cache.delete(stored.id));
    return key;
  }

  forget(keyId: string) {
    this.cache.delete(keyId);
  }

  has(keyId: string): boolean {
    return this.cache.has(keyId);
  }
}
