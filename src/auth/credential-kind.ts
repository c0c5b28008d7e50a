import type { OperationName } from '../telemetry';
import {
  normalizePasscode,
  passcodeViolation,
  pinViolation,
  type PolicyViolation,
} from './credential-policy';

/** What differs between the passcode and the transaction PIN; the rules are shared. */
export interface CredentialKind {
  label: 'passcode' | 'PIN';
  /** Metric operation names: the mutation names. */
  operations: { set: OperationName; verify: OperationName; change: OperationName };
  /** UserCredential columns holding this kind's hash and counters (fixed names, never input). */
  columns: { hash: string; failedAttempts: string; lockedUntil: string };
  /** The form that is hashed and compared. */
  normalize(secret: string): string;
  violation(normalized: string): PolicyViolation | null;
}

export const PASSCODE: CredentialKind = {
  label: 'passcode',
  operations: { set: 'setPasscode', verify: 'verifyPasscode', change: 'changePasscode' },
  columns: {
    hash: 'passcodeHash',
    failedAttempts: 'passcodeFailedAttempts',
    lockedUntil: 'passcodeLockedUntil',
  },
  normalize: normalizePasscode,
  violation: passcodeViolation,
};

export const TRANSACTION_PIN: CredentialKind = {
  label: 'PIN',
  operations: { set: 'setTransactionPin', verify: 'verifyTransactionPin', change: 'changeTransactionPin' },
  columns: { hash: 'pinHash', failedAttempts: 'pinFailedAttempts', lockedUntil: 'pinLockedUntil' },
  normalize: (pin) => pin,
  violation: pinViolation,
};
