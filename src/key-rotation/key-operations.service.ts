import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { ErrorCode } from '../common/errors/error-code';
import { KmsError, keyNotFound } from '../common/errors/kms-error';
import { KeyStatus, keyStatus } from '../encryption/key-lifecycle';
import { PrivateKeyCache } from '../encryption/crypto/private-key-cache';
import { KeysService } from '../encryption/keys.service';
import type { EncryptionKey } from '../encryption/models/encryption-key.model';
import { MetricsRecorder } from '../metrics/metrics.recorder';
import { AdvisoryLock } from './advisory-lock';
import { KeyOperationsRepository } from './key-operations.repository';

/** Operator mutations on single keys: rotate a device's key, revoke a key. */
@Injectable()
export class KeyOperationsService {
  constructor(
    private readonly repository: KeyOperationsRepository,
    private readonly keys: KeysService,
    private readonly clock: Clock,
    private readonly metrics: MetricsRecorder,
    private readonly lock: AdvisoryLock,
    private readonly privateKeys: PrivateKeyCache,
  ) {}

  /**
   * A new key for the device (same appVersion as its newest key), then the keys
   * that were usable when asked are deprecated. The new key comes first: when the
   * rate limit refuses it, nothing has changed; if the process dies in between, the
   * device simply has one more key, as after generateEncryptionKey. Rotations of one
   * device take turns (on any instance), so two at once still leave one usable key.
   */
  rotateDeviceKey(deviceId: string): Promise<EncryptionKey> {
    return this.metrics.measure('rotate', { deviceId }, (tags) =>
      this.lock.runExclusive(`kms:rotate:${deviceId}`, async () => {
        const now = this.clock.now();
        const keys = (await this.repository.findKeysOfDevice(deviceId)).filter((key) => !this.keys.isGone(key, now));
        if (keys.length === 0) throw new KmsError(ErrorCode.KEY_NOT_FOUND, 'Device has no key to rotate');
        const usable = keys.filter((key) => keyStatus(key, now) === KeyStatus.ACTIVE).map((key) => key.id);
        const fresh = await this.keys.generate(deviceId, keys[0].appVersion);
        tags.keyId = fresh.keyId;
        await this.repository.deprecateKeys(usable, this.clock.now());
        return fresh;
      }),
    );
  }

  /** Refused for everything from now on; retention is counted from the first revocation. */
  revokeEncryptionKey(keyId: string, reason: string): Promise<EncryptionKey> {
    return this.metrics.measure('revoke', { keyId }, async (tags) => {
      const stored = await this.keys.requireExisting(keyId);
      const now = this.clock.now();
      tags.deviceId = stored.deviceId;
      const revoked = await this.repository.revoke(keyId, now, reason);
      if (!revoked) throw keyNotFound(); // deleted meanwhile
      this.privateKeys.forget(keyId);
      return this.keys.toModel(revoked, now);
    });
  }
}
