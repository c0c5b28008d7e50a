import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { ErrorCode } from '../common/errors/error-code';
import { KmsError, keyNotFound } from '../common/errors/kms-error';
import { MetricsRecorder } from '../metrics/metrics.recorder';
import { MasterKeyRing } from './crypto/master-key-ring';
import { KEY_ALGORITHM, generateRsaKeyPair, publicKeyJwk } from './crypto/rsa';
import { isPastRetention, KeyLifecycleFields, KeyStatus, keyStatus } from './key-lifecycle';
import { KeysRepository, StoredKey } from './keys.repository';
import type { EncryptionKey } from './models/encryption-key.model';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** Device keys: generation under the rate limit, lookup, and the lifecycle rules of use. */
@Injectable()
export class KeysService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRepository,
    private readonly ring: MasterKeyRing,
    private readonly clock: Clock,
    private readonly metrics: MetricsRecorder,
  ) {}

  /** A new RSA-2048 key for the device; it becomes the device's active key. */
  generate(deviceId: string, appVersion: string | null): Promise<EncryptionKey> {
    return this.metrics.measure('generate', { deviceId }, async (tags) => {
      const now = this.clock.now();
      const reservationId = await this.reserveGeneration(deviceId, now);
      try {
        const { publicKeyPem, privateKeyDer } = await generateRsaKeyPair();
        const id = randomUUID();
        tags.keyId = id;
        const stored = await this.keys.insert({
          id,
          deviceId,
          appVersion,
          publicKey: publicKeyPem,
          privateKey: this.ring.wrap(id, privateKeyDer),
          expiresAt: new Date(now.getTime() + this.config.keys.expiryDays * DAY_MS),
          createdAt: now,
        });
        return this.toModel(stored, now);
      } catch (error) {
        await this.keys.releaseGeneration(reservationId).catch(() => undefined);
        throw error;
      }
    });
  }

  async findById(keyId: string): Promise<EncryptionKey | null> {
    const now = this.clock.now();
    const stored = await this.keys.findById(keyId);
    return stored && !this.isGone(stored, now) ? this.toModel(stored, now) : null;
  }

  async findActiveForDevice(deviceId: string): Promise<EncryptionKey | null> {
    const now = this.clock.now();
    const stored = await this.keys.findNewestUsable(deviceId, now);
    return stored ? this.toModel(stored, now) : null;
  }

  /** The stored key if it may decrypt now: not revoked, not past retention. */
  async requireForDecryption(keyId: string): Promise<StoredKey> {
    const stored = await this.requireExisting(keyId);
    if (keyStatus(stored, this.clock.now()) === KeyStatus.REVOKED) throw keyRevoked();
    return stored;
  }

  /** The stored key if it may encrypt now: ACTIVE only. */
  async requireForEncryption(keyId: string): Promise<StoredKey> {
    const stored = await this.requireExisting(keyId);
    const status = keyStatus(stored, this.clock.now());
    if (status === KeyStatus.REVOKED) throw keyRevoked();
    if (status === KeyStatus.DEPRECATED) {
      throw new KmsError(ErrorCode.KEY_EXPIRED, 'Key is expired or deprecated: it only decrypts');
    }
    return stored;
  }

  toModel(stored: StoredKey, now: Date): EncryptionKey {
    return {
      keyId: stored.id,
      deviceId: stored.deviceId,
      appVersion: stored.appVersion,
      algorithm: KEY_ALGORITHM,
      publicKey: stored.publicKey,
      publicKeyJwk: publicKeyJwk(stored.publicKey, stored.id),
      status: keyStatus(stored, now),
      expiresAt: stored.expiresAt,
      createdAt: stored.createdAt,
    };
  }

  private async reserveGeneration(deviceId: string, now: Date): Promise<string> {
    const windowMs = this.config.keys.generationWindowHours * HOUR_MS;
    const reservation = await this.keys.reserveGeneration(
      deviceId,
      now,
      new Date(now.getTime() - windowMs),
      this.config.keys.maxGenerationsPerDevice,
    );
    if (reservation.granted) return reservation.reservationId;
    const freesAt = reservation.oldestInWindow.getTime() + windowMs;
    throw new KmsError(ErrorCode.RATE_LIMITED, 'Too many keys generated for this device', {
      retryAfterSeconds: Math.max(1, Math.ceil((freesAt - now.getTime()) / 1000)),
    });
  }

  /** The stored key, or KEY_NOT_FOUND when unknown or past retention. */
  async requireExisting(keyId: string): Promise<StoredKey> {
    const stored = await this.keys.findById(keyId);
    if (!stored || this.isGone(stored, this.clock.now())) throw keyNotFound();
    return stored;
  }

  /** Past retention counts as deleted even before the daily job removes the row. */
  isGone(stored: KeyLifecycleFields, now: Date): boolean {
    return isPastRetention(stored, now, this.config.keys.retentionDays);
  }
}

const keyRevoked = () => new KmsError(ErrorCode.KEY_REVOKED, 'Key is revoked');
