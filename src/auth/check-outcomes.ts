import { CREDENTIAL_CHECK_REASONS, type MetricRefusal, type OperationName } from '../telemetry';
import { PASSCODE, TRANSACTION_PIN } from './credential-kind';

/**
 * How a counted check of a passcode or PIN ends, as metrics record it (the wire
 * answers `valid: false`, not an error): valid is a success; a wrong secret and
 * the wrong secret that starts a lock-out are failures with these metric-only
 * codes; a check refused while locked fails with the wire code CREDENTIAL_LOCKED.
 * Operators read brute force from them (summary `credentialChecks`, Prometheus
 * `kms_credential_checks_total` and `kms_credential_lockouts_total`).
 */
export const CHECK_REFUSALS = {
  invalid: { code: CREDENTIAL_CHECK_REASONS.invalid, reason: 'credential-invalid' },
  lockedOut: { code: CREDENTIAL_CHECK_REASONS.lockedOut, reason: 'credential-locked-out' },
} as const satisfies Record<string, MetricRefusal>;

/** The operations that check a stored secret (a counted attempt). */
export const CHECKING_OPERATIONS: readonly OperationName[] = [PASSCODE, TRANSACTION_PIN].flatMap((kind) => [
  kind.operations.verify,
  kind.operations.change,
]);

export type CheckOutcome = 'valid' | 'invalid' | 'locked';

/** The outcome of a check from its metric row's status and reason; null when no check ran (a refused ciphertext, a weak new secret). */
export function checkOutcomeOf(status: 'success' | 'failure', reason: string | null | undefined): CheckOutcome | null {
  if (status === 'success') return 'valid';
  if (reason === CHECK_REFUSALS.invalid.code || reason === CHECK_REFUSALS.lockedOut.code) return 'invalid';
  if (reason === CREDENTIAL_CHECK_REASONS.locked) return 'locked';
  return null;
}
