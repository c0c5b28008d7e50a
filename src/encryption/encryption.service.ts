import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { ErrorCode } from '../common/errors/error-code';
import { badInput, decryptionFailed, keyNotFound, KmsError } from '../common/errors/kms-error';
import { isPrintableIdentifier, KEY_ID_MAX } from '../common/validation/identifiers';
import { MetricsRecorder } from '../metrics/metrics.recorder';
import {
  type Ciphertext,
  decryptCiphertext,
  encryptToJwe,
  jweLength,
  parseCiphertext,
} from './crypto/ciphertext';
import { PrivateKeyCache } from './crypto/private-key-cache';
import { importPublicKey } from './crypto/rsa';
import { KeyUsageRecorder } from './key-usage.recorder';
import { KeysService } from './keys.service';
import type { StoredKey } from './keys.repository';

export interface DecryptedSecret {
  keyId: string;
  key: StoredKey;
  plaintext: string;
  ciphertext: Ciphertext;
}

/** encryptData / decryptData, and the decryption the auth module builds on. */
@Injectable()
export class EncryptionService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysService,
    private readonly privateKeys: PrivateKeyCache,
    private readonly usage: KeyUsageRecorder,
    private readonly metrics: MetricsRecorder,
  ) {}

  encrypt(keyId: string, data: string): Promise<{ keyId: string; encryptedData: string }> {
    return this.metrics.measure('encrypt', { keyId }, async (tags) => {
      // Everything we produce must be something we accept back.
      if (jweLength(Buffer.byteLength(data, 'utf8'), keyId) > this.config.keys.maxEncryptedDataSize) {
        throw payloadTooLarge(this.config.keys.maxEncryptedDataSize, 'the encrypted result');
      }
      const key = await this.keys.requireForEncryption(keyId);
      tags.deviceId = key.deviceId;
      const encryptedData = await encryptToJwe(data, await importPublicKey(key.publicKey), key.id);
      this.usage.recordUse(key.id);
      return { keyId: key.id, encryptedData };
    });
  }

  decrypt(keyId: string | null | undefined, encryptedData: string) {
    return this.metrics.measure('decrypt', { keyId }, async (tags) => {
      const secret = await this.decryptSecret(keyId, encryptedData, tags);
      return { keyId: secret.keyId, data: secret.plaintext };
    });
  }

  /**
   * Size limit, then key lookup and lifecycle rules, then RSA. Counts a use on
   * success. `tags` learns the key and device as soon as they are known.
   */
  async decryptSecret(
    keyId: string | null | undefined,
    encryptedData: string,
    tags: { keyId?: string | null; deviceId?: string | null } = {},
  ): Promise<DecryptedSecret> {
    if (Buffer.byteLength(encryptedData, 'utf8') > this.config.keys.maxEncryptedDataSize) {
      throw payloadTooLarge(this.config.keys.maxEncryptedDataSize, 'encryptedData');
    }
    const ciphertext = parseCiphertext(encryptedData);
    const kid = ciphertext.format === 'jwe' ? ciphertext.kid : undefined;
    if (keyId && kid && keyId !== kid) throw decryptionFailed();
    const resolvedKeyId = keyId ?? kid;
    if (!resolvedKeyId) {
      throw badInput(
        ciphertext.format === 'raw'
          ? 'keyId is required for a raw RSA-OAEP ciphertext'
          : 'keyId is required when the JWE header has no kid',
      );
    }
    // A kid from the header is the client's text: no key has an id that is not printable.
    if (!isPrintableIdentifier(resolvedKeyId, KEY_ID_MAX)) throw keyNotFound();
    tags.keyId = resolvedKeyId;
    const key = await this.keys.requireForDecryption(resolvedKeyId).catch((error: unknown) => {
      // Revoked or gone: its unwrapped key has no business staying in memory.
      this.privateKeys.forget(resolvedKeyId);
      throw error;
    });
    tags.deviceId = key.deviceId;
    const plaintext = await decryptCiphertext(ciphertext, await this.privateKeys.get(key));
    this.usage.recordUse(key.id);
    return { keyId: key.id, key, plaintext, ciphertext };
  }
}

function payloadTooLarge(limit: number, what: string) {
  return new KmsError(ErrorCode.PAYLOAD_TOO_LARGE, `${what} exceeds ${limit} bytes`, {
    maxBytes: limit,
  });
}
