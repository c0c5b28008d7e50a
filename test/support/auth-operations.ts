import { encryptWithJose, encryptWithWebCrypto } from './clients';
import type { GeneratedKey } from './operations';
import type { TestApp } from './test-app';

const RESULT = 'valid remainingAttempts lockedUntil';

/** The six auth mutations (docs/contract.md, passcode and transaction PIN), as outside clients send them. */
export const AUTH_DOCUMENTS = {
  setPasscode: `mutation Set($input: SetPasscodeInput!) { setPasscode(input: $input) }`,
  verifyPasscode: `mutation Verify($input: VerifyPasscodeInput!) { verifyPasscode(input: $input) { ${RESULT} } }`,
  changePasscode: `mutation Change($input: ChangePasscodeInput!) { changePasscode(input: $input) }`,
  setTransactionPin: `mutation Set($input: SetTransactionPinInput!) { setTransactionPin(input: $input) }`,
  verifyTransactionPin: `mutation Verify($input: VerifyTransactionPinInput!) { verifyTransactionPin(input: $input) { ${RESULT} } }`,
  changeTransactionPin: `mutation Change($input: ChangeTransactionPinInput!) { changeTransactionPin(input: $input) }`,
};
export type AuthOperation = keyof typeof AUTH_DOCUMENTS;

export interface VerificationResult {
  valid: boolean;
  remainingAttempts: number;
  lockedUntil: string | null;
}

/** Calls one auth mutation as a `service` caller; returns the whole response. */
export function authCall(t: TestApp, operation: AuthOperation, input: Record<string, unknown>) {
  return t.gql<Record<string, any>>(AUTH_DOCUMENTS[operation], { input }, t.as('service'));
}

/**
 * A device (key) and a user, with the calls a backend makes for them. Secrets are
 * encrypted on the "device" with WebCrypto (raw) unless `jwe` asks for jose.
 */
export function authDevice(t: TestApp, key: GeneratedKey, userId: string) {
  const encrypt = (secret: string, jwe = false) =>
    jwe ? encryptWithJose(key.publicKeyJwk, secret) : encryptWithWebCrypto(key.publicKey, secret);
  const call = async (operation: AuthOperation, fields: Record<string, string>) =>
    authCall(t, operation, { userId, keyId: key.keyId, ...fields });
  return {
    userId,
    encrypt,
    call,
    setPasscode: async (passcode: string) => call('setPasscode', { encryptedPasscode: await encrypt(passcode) }),
    verifyPasscode: async (passcode: string, jwe = false) =>
      call('verifyPasscode', { encryptedPasscode: await encrypt(passcode, jwe) }),
    changePasscode: async (current: string, next: string) =>
      call('changePasscode', {
        encryptedCurrentPasscode: await encrypt(current),
        encryptedNewPasscode: await encrypt(next, true),
      }),
    setPin: async (pin: string) => call('setTransactionPin', { encryptedPin: await encrypt(pin) }),
    verifyPin: async (pin: string, jwe = false) =>
      call('verifyTransactionPin', { encryptedPin: await encrypt(pin, jwe) }),
    changePin: async (current: string, next: string) =>
      call('changeTransactionPin', {
        encryptedCurrentPin: await encrypt(current, true),
        encryptedNewPin: await encrypt(next),
      }),
  };
}

let counter = 0;
/** A user id no other test uses. */
export const newUserId = (label = 'user') =>
  `${label}-${process.env.JEST_WORKER_ID ?? 0}-${Date.now().toString(36)}-${(counter += 1)}`;
