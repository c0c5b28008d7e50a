import { ErrorCode, KmsError } from '../common';

/** The errors the keys module raises; the reason says which rule refused. */
export const keyErrors = {
  notFound: (reason: 'device-key-unknown' | 'device-key-past-retention' | 'device-has-no-key') =>
    new KmsError(ErrorCode.KEY_NOT_FOUND, reason === 'device-has-no-key' ? 'Device has no key' : 'Key not found', {
      reason,
    }),
  revoked: () => new KmsError(ErrorCode.KEY_REVOKED, 'Key is revoked', { reason: 'device-key-revoked' }),
  /** Expired or deprecated: it decrypts, it does not encrypt. */
  notActive: () =>
    new KmsError(ErrorCode.KEY_EXPIRED, 'Key is expired or deprecated: it only decrypts', {
      reason: 'device-key-not-active',
    }),
  generationLimit: (retryAfterSeconds: number) =>
    new KmsError(ErrorCode.RATE_LIMITED, 'Too many keys generated for this device', {
      reason: 'device-generation-limit',
      extensions: { retryAfterSeconds },
    }),
};
