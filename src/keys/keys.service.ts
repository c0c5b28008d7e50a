import type { webcrypto } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { AdvisoryLock } from '../database';
import { Measured, tagOperation } from '../telemetry';
import { PrivateKeyCache } from './crypto/private-key-cache';
import { generateRsaKeyPair, importPublicKey, KEY_ALGORITHM, publicKeyJwk } from './crypto/rsa';
import { GenerationBudget } from './generation-budget';
import { DAY_MS, decryptsUntil, isPastRetention, KeyStatus, keyStatus } from './key-lifecycle';
import type { KeyRecord } from './key-record';
import { KeyPool } from './key-pool';
import { KeyRowCache } from './key-row-cache';
import { KeyUsageRecorder } from './key-usage.recorder';
import { keyErrors } from './keys.errors';
import { KeysRepository, KeyCountsByState } from './keys.repository';
import type { EncryptionKey } from './models/encryption-key.model';
import { secondsUntilFree } from './window-ledger';

const HOUR_MS = 60 * 60 * 1000;

/** A key that may decrypt now, with its private key ready for WebCrypto. */
export interface DecryptionKey {
  key: KeyRecord;
  privateKey: webcrypto.CryptoKey;
  /** Until when anything it decrypted could be submitted again (single-use records). */
  decryptsUntil: Date | null;
}

/** A key that may encrypt now (ACTIVE). */
export interface EncryptionPublicKey {
  key: KeyRecord;
  publicKey: webcrypto.CryptoKey;
}

/**
 * Device keys: generation under the per-device rate limit, lookup, the lifecycle
 * rules of use (key-lifecycle.ts), rotation and revocation. The only way into the
 * ClientEncryptionKey and KeyGeneration tables for the rest of the service.
 */
@Injectable()
export class KeysService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRepository,
    private readonly clock: Clock,
    private readonly privateKeys: PrivateKeyCache,
    private readonly usage: KeyUsageRecorder,
    private readonly lock: AdvisoryLock,
    private readonly rows: KeyRowCache,
    private readonly budget: GenerationBudget,
    private readonly pool: KeyPool,
  ) {}

  /**
   * A new RSA-2048 key for the device; it becomes the device's active key. Its pair
   * comes from the key pool when one is left (key-pool.ts); otherwise it is made here,
   * as without a pool (a miss is slower, never an error). Either way the device's
   * generation is counted in the same transaction that stores the key.
   */
  @Measured('generate', (deviceId: string) => ({ deviceId }))
  generate(deviceId: string, appVersion: string | null): Promise<EncryptionKey> {
    // Within the request's and the caller's budgets (generation-budget.ts), or refused before anything is made.
    return this.budget.spend(() => this.generateForDevice(deviceId, appVersion));
  }

  private async generateForDevice(deviceId: string, appVersion: string | null): Promise<EncryptionKey> {
    const now = this.clock.now();
    const windowMs = this.config.keys.generationWindowHours * HOUR_MS;
    const limit = { deviceId, now, windowStart: new Date(now.getTime() - windowMs), max: this.config.keys.maxGenerationsPerDevice };
    const owner = { deviceId, appVersion, expiresAt: new Date(now.getTime() + this.config.keys.expiryDays * DAY_MS), createdAt: now };
    const claimed = await this.keys.createWithinLimit(limit, owner, { claimFromPool: this.pool.claimable(now) });
    if (claimed.outcome === 'created') {
      this.pool.claimed();
      return this.created(claimed.key, now);
    }
    if (claimed.outcome === 'refused') throw this.generationLimit(claimed.oldestInWindow, windowMs, now);
    // Within the limit a moment ago, and no pair left: made here, then the limit is checked again.
    this.pool.missed();
    const pair = this.pool.wrap(await generateRsaKeyPair());
    const made = await this.keys.createWithinLimit(limit, owner, pair);
    if (made.outcome === 'created') return this.created(made.key, now);
    // Other calls of the device took its last generations meanwhile: the pair serves another device.
    await this.pool.keep(pair, now);
    throw this.generationLimit(made.outcome === 'refused' ? made.oldestInWindow : now, windowMs, now);
  }

  /** Null when unknown or past retention. */
  async findById(keyId: string): Promise<EncryptionKey | null> {
    const now = this.clock.now();
    const stored = await this.keys.findById(keyId);
    return stored && !this.isGone(stored, now) ? this.toModel(stored, now) : null;
  }

  /** The device's newest ACTIVE key, or null. */
  async findActiveForDevice(deviceId: string): Promise<EncryptionKey | null> {
    const now = this.clock.now();
    const stored = await this.keys.findNewestActive(deviceId, now);
    return stored ? this.toModel(stored, now) : null;
  }

  /**
   * The key if it may decrypt now (not revoked, not past retention), with its
   * unwrapped private key (cached; the row decides on every call whether it may be used).
   * The row comes from KeyRowCache: no database round trip while it is cached.
   */
  async openForDecryption(keyId: string): Promise<DecryptionKey> {
    const stored = await this.rows.find(keyId);
    try {
      if (!stored) throw keyErrors.notFound('device-key-unknown');
      const { privateKey: wrapped, ...key } = this.usable(stored, this.clock.now(), [KeyStatus.ACTIVE, KeyStatus.DEPRECATED]);
      tagOperation({ deviceId: key.deviceId });
      return {
        key,
        privateKey: await this.privateKeys.get({ id: key.id, privateKey: wrapped }),
        decryptsUntil: decryptsUntil(key, this.config.keys.retentionDays),
      };
    } catch (error) {
      // Revoked or gone: its unwrapped key has no business staying in memory.
      this.privateKeys.forget(keyId);
      throw error;
    }
  }

  /** The key if it may encrypt now: ACTIVE only. */
  async openForEncryption(keyId: string): Promise<EncryptionPublicKey> {
    const stored = await this.rows.find(keyId);
    if (!stored) throw keyErrors.notFound('device-key-unknown');
    const { privateKey: _wrapped, ...key } = this.usable(stored, this.clock.now(), [KeyStatus.ACTIVE]);
    tagOperation({ deviceId: key.deviceId });
    return { key, publicKey: await importPublicKey(key.publicKey) };
  }

  /** Counts a successful use (usageCount, lastUsed), written in batches. */
  recordUse(keyId: string) {
    this.usage.recordUse(keyId);
  }

  /**
   * A new key for the device (same appVersion as its newest key), then the keys
   * that were usable when asked are deprecated. The new key comes first: when the
   * rate limit refuses it, nothing has changed; if the process dies in between, the
   * device simply has one more key, as after generateEncryptionKey. Rotations of one
   * device take turns (on any instance), so two at once still leave one usable key.
   */
  @Measured('rotate', (deviceId: string) => ({ deviceId }))
  rotateDeviceKey(deviceId: string): Promise<EncryptionKey> {
    return this.lock.runExclusive(`kms:rotate:${deviceId}`, async () => {
      const now = this.clock.now();
      const keys = (await this.keys.findKeysOfDevice(deviceId)).filter((key) => !this.isGone(key, now));
      if (keys.length === 0) throw keyErrors.notFound('device-has-no-key');
      const usable = keys.filter((key) => keyStatus(key, now) === KeyStatus.ACTIVE).map((key) => key.id);
      const fresh = await this.generate(deviceId, keys[0].appVersion);
      tagOperation({ keyId: fresh.keyId });
      await this.keys.deprecate(usable, this.clock.now());
      for (const id of usable) this.rows.forget(id);
      return fresh;
    });
  }

  /** Refused for everything from now on; retention is counted from the first revocation. */
  @Measured('revoke', (keyId: string) => ({ keyId }))
  async revoke(keyId: string, reason: string): Promise<EncryptionKey> {
    const now = this.clock.now();
    const existing = await this.keys.findById(keyId);
    if (!existing || this.isGone(existing, now)) throw keyErrors.notFound('device-key-unknown');
    tagOperation({ deviceId: existing.deviceId });
    const revoked = await this.keys.revoke(keyId, now, reason);
    this.rows.forget(keyId);
    if (!revoked) throw keyErrors.notFound('device-key-unknown'); // deleted meanwhile
    this.privateKeys.forget(keyId);
    return this.toModel(revoked, now);
  }

  /** Stored keys by state now (expired but unmarked counts as deprecated). */
  countByState(): Promise<KeyCountsByState> {
    return this.keys.countByState(this.clock.now(), this.config.keys.retentionDays);
  }

  /** The key's row, refused by the lifecycle rules unless its status at `now` is one of `allowed`. */
  private usable<K extends KeyRecord>(key: K, now: Date, allowed: KeyStatus[]): K {
    if (this.isGone(key, now)) throw keyErrors.notFound('device-key-past-retention');
    const status = keyStatus(key, now);
    if (allowed.includes(status)) return key;
    throw status === KeyStatus.REVOKED ? keyErrors.revoked() : keyErrors.notActive();
  }

  /** Past retention counts as deleted even before the daily job removes the row. */
  private isGone(key: KeyRecord, now: Date): boolean {
    return isPastRetention(key, now, this.config.keys.retentionDays);
  }

  private toModel(key: KeyRecord, now: Date): EncryptionKey {
    return {
      keyId: key.id,
      deviceId: key.deviceId,
      appVersion: key.appVersion,
      algorithm: KEY_ALGORITHM,
      publicKey: key.publicKey,
      publicKeyJwk: publicKeyJwk(key.publicKey, key.id),
      status: keyStatus(key, now),
      expiresAt: key.expiresAt,
      createdAt: key.createdAt,
    };
  }

  private created(key: KeyRecord, now: Date): EncryptionKey {
    tagOperation({ keyId: key.id });
    return this.toModel(key, now);
  }

  /** RATE_LIMITED, retryable when the oldest generation in the window leaves it. */
  private generationLimit(oldestInWindow: Date, windowMs: number, now: Date) {
    return keyErrors.generationLimit(secondsUntilFree(oldestInWindow, windowMs, now));
  }
}
