import { HttpException } from '@nestjs/common';
import { ErrorCode } from './error-code';
import { codeForHttpStatus } from './http-status';
import { RETRY_AFTER_SECONDS, type UnavailableReason, unavailableReason } from './unavailable';

export interface KmsErrorOptions {
  /**
   * Why, for operators: logs and metric rows carry it, clients never see it (the
   * wire keeps the contract's code). Kebab-case, from a fixed list per module, e.g.
   * `api-key-unknown` vs `device-key-unknown` (both mean "not found" to a client).
   * Defaults to the code.
   */
  reason?: string;
  /** Shown to the client next to the code (retryAfterSeconds, lockedUntil, ...). */
  extensions?: Record<string, unknown>;
}

/**
 * A domain error: its code, message and extensions are safe to show to the caller.
 * Anything thrown that is not a KmsError is reported as INTERNAL. Each module
 * gathers the errors it raises in its own `*.errors.ts`.
 */
export class KmsError extends Error {
  readonly reason: string;
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: KmsErrorOptions = {},
  ) {
    super(message);
    this.name = 'KmsError';
    this.reason = options.reason ?? code;
    this.extensions = options.extensions ?? {};
  }
}

/** The caller's input is wrong in a way the schema could not tell. */
export const badInput = (message: string, reason = 'bad-input') =>
  new KmsError(ErrorCode.BAD_USER_INPUT, message, { reason });

/** The client-facing error for a database that cannot be reached now: retryable. */
export function serviceUnavailable(reason: UnavailableReason): KmsError {
  return new KmsError(
    ErrorCode.SERVICE_UNAVAILABLE,
    `The service cannot reach its database; retry in ${RETRY_AFTER_SECONDS} s`,
    { reason, extensions: { retryAfterSeconds: RETRY_AFTER_SECONDS } },
  );
}

/** `error` as SERVICE_UNAVAILABLE when it says the database is unavailable; undefined otherwise. */
export function asServiceUnavailable(error: unknown): KmsError | undefined {
  const reason = error instanceof KmsError ? undefined : unavailableReason(error);
  return reason ? serviceUnavailable(reason) : undefined;
}

/** The public code and the internal reason of whatever was thrown. */
export function describeFailure(error: unknown): { code: ErrorCode; reason: string } {
  if (error instanceof KmsError) return { code: error.code, reason: error.reason };
  const unavailable = asServiceUnavailable(error);
  if (unavailable) return { code: unavailable.code, reason: unavailable.reason };
  // The validation pipe's refusals (and other HTTP exceptions) map through the status table.
  const code = error instanceof HttpException ? codeForHttpStatus(error.getStatus()) : undefined;
  if (code) return { code, reason: code === ErrorCode.BAD_USER_INPUT ? 'input-invalid' : code };
  return { code: ErrorCode.INTERNAL, reason: error instanceof Error ? error.name : typeof error };
}
