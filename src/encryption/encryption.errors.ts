import { badInput, ErrorCode, KmsError } from '../common';

/** Why a decryption failed: for logs and metrics only; the client always reads DECRYPTION_FAILED. */
export type DecryptionFailure =
  | 'ciphertext-malformed'
  | 'kid-mismatch'
  | 'decryption-rejected'
  | 'plaintext-not-utf8';

/** The errors the encryption module raises. */
export const encryptionErrors = {
  /** Deliberately says nothing more: no padding or format oracle. */
  decryptionFailed: (reason: DecryptionFailure) =>
    new KmsError(ErrorCode.DECRYPTION_FAILED, 'Decryption failed', { reason }),
  payloadTooLarge: (limit: number, what: 'encryptedData' | 'the encrypted result') =>
    new KmsError(ErrorCode.PAYLOAD_TOO_LARGE, `${what} exceeds ${limit} bytes`, {
      reason: what === 'encryptedData' ? 'ciphertext-too-large' : 'plaintext-too-large',
      extensions: { maxBytes: limit },
    }),
  keyIdRequired: (format: 'raw' | 'jwe') =>
    badInput(
      format === 'raw'
        ? 'keyId is required for a raw RSA-OAEP ciphertext'
        : 'keyId is required when the JWE header has no kid',
      'key-id-missing',
    ),
  /** A JWE kid no key could have (not a printable id): the client's text, not a device key. */
  impossibleKid: () => new KmsError(ErrorCode.KEY_NOT_FOUND, 'Key not found', { reason: 'kid-not-an-id' }),
};
