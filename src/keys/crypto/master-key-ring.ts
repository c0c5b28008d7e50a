import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MasterKeyEntry } from '../../config';

const FORMAT = 'kms1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Envelope encryption of private keys at rest: AES-256-GCM under the newest
 * master key, with the row id as authenticated data, so a wrapped key copied to
 * another row does not decrypt. Stored as `kms1.<masterKeyId>.<iv>.<ciphertext>.<tag>`.
 */
export class MasterKeyRing {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly entries: MasterKeyEntry[]) {
    if (entries.length === 0) throw new Error('the master key ring is empty');
    this.byId = new Map(entries.map((entry) => [entry.id, entry.key]));
  }

  get newestId(): string {
    return this.entries[0].id;
  }

  wrap(rowId: string, secret: Buffer): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.entries[0].key, iv);
    cipher.setAAD(aad(rowId));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    return [FORMAT, this.newestId, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** Throws when the value was not wrapped for this row id, or under no key of the ring. */
  unwrap(rowId: string, wrapped: string): Buffer {
    const [format, masterKeyId, iv, ciphertext, tag] = wrapped.split('.');
    const key = this.byId.get(masterKeyId);
    if (format !== FORMAT || !key || !tag) {
      throw new Error(`wrapped key of row ${rowId} is not under any master key of the ring`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(aad(rowId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  }

  /** The id of the master key a stored value is wrapped under. */
  static masterKeyIdOf(wrapped: string): string | undefined {
    return wrapped.split('.')[1];
  }

  /** Prefix shared by every value wrapped under the newest key (for re-wrap queries). */
  get newestPrefix(): string {
    return `${FORMAT}.${this.newestId}.`;
  }
}

function aad(rowId: string): Buffer {
  return Buffer.from(`ClientEncryptionKey:${rowId}`, 'utf8');
}
