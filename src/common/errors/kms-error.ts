import { ErrorCode } from './error-code';

/**
 * A domain error: its message and extensions are safe to show to the caller.
 * Anything thrown that is not a KmsError is reported as INTERNAL.
 */
export class KmsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'KmsError';
  }
}

export const badInput = (message: string, extensions?: Record<string, unknown>) =>
  new KmsError(ErrorCode.BAD_USER_INPUT, message, extensions);

export const keyNotFound = () => new KmsError(ErrorCode.KEY_NOT_FOUND, 'Key not found');

/** Deliberately says nothing more: no padding or format oracle. */
export const decryptionFailed = () => new KmsError(ErrorCode.DECRYPTION_FAILED, 'Decryption failed');
