import { Inject, Injectable } from '@nestjs/common';
import { isPrintableIdentifier, KEY_ID_MAX } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { type KeyRecord, KeysService } from '../keys';
import { Measured, tagOperation } from '../telemetry';
import { type Ciphertext, decryptCiphertext, encryptToJwe, jweLength, parseCiphertext } from './crypto/ciphertext';
import { encryptionErrors } from './encryption.errors';

export interface DecryptedSecret {
  key: KeyRecord;
  plaintext: string;
  ciphertext: Ciphertext;
  /** Until when the key could decrypt this ciphertext again (single-use records). */
  decryptsUntil: Date | null;
}

/** encryptData / decryptData, and the decryption the auth module builds on. */
@Injectable()
export class EncryptionService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysService,
  ) {}

  @Measured('encrypt', (keyId: string) => ({ keyId }))
  async encrypt(keyId: string, data: string): Promise<{ keyId: string; encryptedData: string }> {
    // Everything we produce must be something we accept back.
    const limit = this.config.keys.maxEncryptedDataSize;
    if (jweLength(Buffer.byteLength(data, 'utf8'), keyId) > limit) {
      throw encryptionErrors.payloadTooLarge(limit, 'the encrypted result');
    }
    const { key, publicKey } = await this.keys.openForEncryption(keyId);
    const encryptedData = await encryptToJwe(data, publicKey, key.id);
    this.keys.recordUse(key.id);
    return { keyId: key.id, encryptedData };
  }

  @Measured('decrypt', (keyId: string | null | undefined) => ({ keyId }))
  async decrypt(keyId: string | null | undefined, encryptedData: string): Promise<{ keyId: string; data: string }> {
    const secret = await this.decryptSecret(keyId, encryptedData);
    return { keyId: secret.key.id, data: secret.plaintext };
  }

  /**
   * Size limit, then key lookup and lifecycle rules, then RSA. Counts a use on
   * success. The measured operation it runs in learns the key and device.
   */
  async decryptSecret(keyId: string | null | undefined, encryptedData: string): Promise<DecryptedSecret> {
    const limit = this.config.keys.maxEncryptedDataSize;
    if (Buffer.byteLength(encryptedData, 'utf8') > limit) throw encryptionErrors.payloadTooLarge(limit, 'encryptedData');
    const ciphertext = parseCiphertext(encryptedData);
    const kid = ciphertext.format === 'jwe' ? ciphertext.kid : undefined;
    if (keyId && kid && keyId !== kid) throw encryptionErrors.decryptionFailed('kid-mismatch');
    const resolvedKeyId = keyId ?? kid;
    if (!resolvedKeyId) throw encryptionErrors.keyIdRequired(ciphertext.format);
    // A kid from the header is the client's text: no key has an id that is not printable.
    if (!isPrintableIdentifier(resolvedKeyId, KEY_ID_MAX)) throw encryptionErrors.impossibleKid();
    tagOperation({ keyId: resolvedKeyId });
    const { key, privateKey, decryptsUntil } = await this.keys.openForDecryption(resolvedKeyId);
    const plaintext = await decryptCiphertext(ciphertext, privateKey);
    this.keys.recordUse(key.id);
    return { key, plaintext, ciphertext, decryptsUntil };
  }
}
