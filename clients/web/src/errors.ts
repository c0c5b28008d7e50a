/** The KMS error codes (`extensions.code`, SPEC section 6), plus NETWORK_ERROR for a transport failure. */
export type KmsErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'KEY_NOT_FOUND'
  | 'KEY_EXPIRED'
  | 'KEY_REVOKED'
  | 'PAYLOAD_TOO_LARGE'
  | 'DECRYPTION_FAILED'
  | 'WEAK_CREDENTIAL'
  | 'CREDENTIAL_LOCKED'
  | 'CIPHERTEXT_REPLAYED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL'
  | 'NETWORK_ERROR';

/** Codes after which the device needs another key (the app's backend relays them to the device). */
export const KEY_REPLACING_CODES: readonly KmsErrorCode[] = ['KEY_EXPIRED', 'KEY_REVOKED', 'KEY_NOT_FOUND'];

export class KmsClientError extends Error {
  override readonly name = 'KmsClientError';

  constructor(
    readonly code: KmsErrorCode,
    message: string,
    /** With RATE_LIMITED and SERVICE_UNAVAILABLE: do not ask again before this many seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
