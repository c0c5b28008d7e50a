import { badInput, ErrorCode, KmsError } from '../common';

/** The errors the auth module raises. */
export const authErrors = {
  locked: (lockedUntil: Date) =>
    new KmsError(ErrorCode.CREDENTIAL_LOCKED, 'Too many failed attempts: locked for now', {
      reason: 'credential-locked',
      extensions: { lockedUntil: lockedUntil.toISOString() },
    }),
  replayed: () =>
    new KmsError(ErrorCode.CIPHERTEXT_REPLAYED, 'This encrypted credential was already used', {
      reason: 'ciphertext-consumed',
    }),
  alreadySet: (label: string) => badInput(`The user already has a ${label}: change it instead`, 'credential-exists'),
  /** WEAK_CREDENTIAL, with which rule failed (the caller shows the user what to change). */
  weak: (label: 'passcode' | 'PIN', violation: string, message: string) =>
    new KmsError(ErrorCode.WEAK_CREDENTIAL, message, {
      reason: `${label === 'PIN' ? 'pin' : 'passcode'}-${violation.toLowerCase().replace(/_/g, '-')}`,
      extensions: { violation },
    }),
};
