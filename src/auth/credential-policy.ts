import type { KmsError } from '../common';
import { authErrors } from './auth.errors';

export const PASSCODE_MIN_LENGTH = 6;
export const PASSCODE_MAX_LENGTH = 64;

export type PolicyViolation = 'LENGTH' | 'NOT_DIGITS' | 'REPEATED_DIGIT' | 'SEQUENCE';

/**
 * Passcodes are compared in Unicode NFC, so that the same characters typed on
 * different devices give the same hash; their length is counted in code points.
 */
export function normalizePasscode(passcode: string): string {
  return passcode.normalize('NFC');
}

/** docs/contract.md (passcode and transaction PIN): 6 to 64 characters. Takes the normalized passcode. */
export function passcodeViolation(passcode: string): PolicyViolation | null {
  const length = [...passcode].length;
  return length < PASSCODE_MIN_LENGTH || length > PASSCODE_MAX_LENGTH ? 'LENGTH' : null;
}

/** docs/contract.md (passcode and transaction PIN): exactly 4 or 6 ASCII digits, not all one digit, not a straight run. */
export function pinViolation(pin: string): PolicyViolation | null {
  if (pin.length !== 4 && pin.length !== 6) return 'LENGTH';
  if (!/^[0-9]+$/.test(pin)) return 'NOT_DIGITS';
  const steps = new Set([...pin].slice(1).map((digit, i) => Number(digit) - Number(pin[i])));
  if (steps.size !== 1) return null;
  const [step] = steps;
  if (step === 0) return 'REPEATED_DIGIT';
  return step === 1 || step === -1 ? 'SEQUENCE' : null;
}

/** WEAK_CREDENTIAL, with which rule failed (the caller shows the user what to change). */
export function weakCredential(what: 'passcode' | 'PIN', violation: PolicyViolation): KmsError {
  const messages: Record<PolicyViolation, string> = {
    LENGTH:
      what === 'PIN'
        ? 'A PIN has exactly 4 or 6 digits'
        : `A passcode has ${PASSCODE_MIN_LENGTH} to ${PASSCODE_MAX_LENGTH} characters`,
    NOT_DIGITS: 'A PIN has digits only',
    REPEATED_DIGIT: 'A PIN must not be one digit repeated',
    SEQUENCE: 'A PIN must not be a straight ascending or descending sequence',
  };
  return authErrors.weak(what, violation, messages[violation]);
}
