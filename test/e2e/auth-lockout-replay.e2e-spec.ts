import { CredentialHasher } from '../../src/auth/crypto/credential-hasher';
import { authDevice, newUserId } from '../support/auth-operations';
import { encryptWithJose, toBase64Url } from '../support/clients';
import { decrypt, errorCode, GeneratedKey, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

const MINUTE = 60_000;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * 256 bytes in unpadded base64 end in a character of which only 2 bits are data:
 * flipping an unused bit gives another text that decodes to the same bytes.
 */
function withOtherTrailingBits(unpadded: string): string {
  const last = ALPHABET.indexOf(unpadded.slice(-1));
  return unpadded.slice(0, -1) + ALPHABET[last ^ 1];
}

describe('auth: lock-out and single use', () => {
  let t: TestApp;
  let key: GeneratedKey;
  let verifySpy: jest.SpyInstance;

  beforeAll(async () => {
    t = await startTestApp({ env: { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' } });
    key = await generateKey(t, newDeviceId());
    verifySpy = jest.spyOn(t.app.get(CredentialHasher), 'verify');
  });
  beforeEach(() => verifySpy.mockClear());
  afterAll(async () => {
    verifySpy.mockRestore();
    await t.close();
  });

  const userWithPin = async (pin = '7395', onKey = key) => {
    const device = authDevice(t, onKey, newUserId());
    expect((await device.setPin(pin)).data).toEqual({ setTransactionPin: true });
    return device;
  };
  const counters = async (userId: string) => {
    const row = await t.prisma.userCredential.findUniqueOrThrow({ where: { userId } });
    return { failed: row.pinFailedAttempts, lockedUntil: row.pinLockedUntil };
  };
  const verifyResult = (response: { data?: any }) => response.data?.verifyTransactionPin;

  describe('lock-out', () => {
    it('locks after AUTH_MAX_ATTEMPTS failures; while locked, refuses without checking the secret', async () => {
      const user = await userWithPin();
      const answers = [];
      for (let i = 0; i < 5; i += 1) answers.push(verifyResult(await user.verifyPin(`100${i}`.padEnd(4, '9'))));
      const lockedUntil = new Date(t.clock.now().getTime() + 15 * MINUTE).toISOString();
      expect(answers).toEqual([
        { valid: false, remainingAttempts: 4, lockedUntil: null },
        { valid: false, remainingAttempts: 3, lockedUntil: null },
        { valid: false, remainingAttempts: 2, lockedUntil: null },
        { valid: false, remainingAttempts: 1, lockedUntil: null },
        { valid: false, remainingAttempts: 0, lockedUntil },
      ]);

      verifySpy.mockClear();
      const whileLocked = await user.verifyPin('7395');
      expect(errorCode(whileLocked)).toBe('CREDENTIAL_LOCKED');
      expect(whileLocked.errors![0].extensions.lockedUntil).toBe(lockedUntil);
      expect(errorCode(await user.changePin('7395', '9173'))).toBe('CREDENTIAL_LOCKED');
      expect(verifySpy).not.toHaveBeenCalled();
      expect(await counters(user.userId)).toEqual({ failed: 5, lockedUntil: new Date(lockedUntil) });
    });

    it('stays locked until AUTH_LOCKOUT_MINUTES have passed, then starts a fresh count', async () => {
      const user = await userWithPin();
      for (let i = 0; i < 5; i += 1) await user.verifyPin('9173');
      const start = t.clock.now();
      try {
        t.clock.advanceMs(15 * MINUTE - 1);
        expect(errorCode(await user.verifyPin('7395'))).toBe('CREDENTIAL_LOCKED');
        t.clock.advanceMs(1);
        expect(verifyResult(await user.verifyPin('9173'))).toEqual({ valid: false, remainingAttempts: 4, lockedUntil: null });
        expect(verifyResult(await user.verifyPin('7395'))).toEqual({ valid: true, remainingAttempts: 5, lockedUntil: null });
        expect(await counters(user.userId)).toEqual({ failed: 0, lockedUntil: null });
      } finally {
        t.clock.set(start);
      }
    });

    it('locks the PIN only: the passcode keeps its own count', async () => {
      const user = await userWithPin();
      await user.setPasscode('separate-passcode');
      for (let i = 0; i < 5; i += 1) await user.verifyPin('9173');
      expect(errorCode(await user.verifyPin('7395'))).toBe('CREDENTIAL_LOCKED');
      expect((await user.verifyPasscode('separate-passcode')).data!.verifyPasscode.valid).toBe(true);
    });

    it('counts wrong current secrets given to change, and locks the same way', async () => {
      const user = await userWithPin();
      for (let i = 0; i < 4; i += 1) expect((await user.changePin('9173', '5823')).data).toEqual({ changeTransactionPin: false });
      expect(verifyResult(await user.verifyPin('9173'))).toMatchObject({ valid: false, remainingAttempts: 0 });
      expect(errorCode(await user.changePin('7395', '5823'))).toBe('CREDENTIAL_LOCKED');
    });

    it('gives 10 concurrent wrong attempts exactly AUTH_MAX_ATTEMPTS checks; the rest are CREDENTIAL_LOCKED', async () => {
      const user = await userWithPin();
      const ciphertexts = await Promise.all(Array.from({ length: 10 }, (_, i) => user.encrypt(`90${i}7`)));
      verifySpy.mockClear();
      const responses = await Promise.all(
        ciphertexts.map((encryptedPin) => user.call('verifyTransactionPin', { encryptedPin })),
      );

      const checked = responses.filter((response) => !response.errors).map(verifyResult);
      const locked = responses.filter((response) => errorCode(response) === 'CREDENTIAL_LOCKED');
      expect(checked).toHaveLength(5);
      expect(locked).toHaveLength(5);
      expect(verifySpy).toHaveBeenCalledTimes(5);
      expect(checked.every((result) => result.valid === false)).toBe(true);
      expect(checked.map((result) => result.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
      const lockedUntil = new Date(t.clock.now().getTime() + 15 * MINUTE);
      expect(checked.filter((result) => result.lockedUntil !== null).map((result) => result.lockedUntil)).toEqual([
        lockedUntil.toISOString(),
      ]);
      for (const response of locked) expect(response.errors![0].extensions.lockedUntil).toBe(lockedUntil.toISOString());
      expect(await counters(user.userId)).toEqual({ failed: 5, lockedUntil });
    });
  });

  describe('single use', () => {
    it('refuses the same ciphertext a second time (CIPHERTEXT_REPLAYED), raw or JWE', async () => {
      const user = await userWithPin();
      const raw = await user.encrypt('7395');
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin: raw })).valid).toBe(true);
      expect(errorCode(await user.call('verifyTransactionPin', { encryptedPin: raw }))).toBe('CIPHERTEXT_REPLAYED');

      const jwe = await user.encrypt('7395', true);
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin: jwe })).valid).toBe(true);
      const replayed = await user.call('verifyTransactionPin', { encryptedPin: jwe });
      expect(errorCode(replayed)).toBe('CIPHERTEXT_REPLAYED');
      expect(replayed.errors![0].message).not.toMatch(/[A-Za-z0-9+/_-]{40}/);
    });

    it('knows a raw ciphertext again in the other base64 alphabet, with or without padding', async () => {
      const user = await userWithPin();
      const standard = await user.encrypt('7395');
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin: standard })).valid).toBe(true);
      const urlSafe = toBase64Url(standard);
      const variants = [urlSafe, `${urlSafe}==`, standard.replace(/=+$/, ''), withOtherTrailingBits(standard.replace(/=+$/, ''))];
      for (const encryptedPin of new Set(variants)) {
        // Each variant is a different text for the same RSA bytes: it still decrypts ...
        expect((await decrypt(t, { keyId: key.keyId, encryptedData: encryptedPin }, t.as('service'))).data?.decryptData.data).toBe('7395');
        // ... and is the same submission.
        expect({ encryptedPin, code: errorCode(await user.call('verifyTransactionPin', { encryptedPin })) }).toEqual({
          encryptedPin,
          code: 'CIPHERTEXT_REPLAYED',
        });
      }
    });

    it('knows a JWE again by its encrypted key, whatever the text of that segment', async () => {
      const user = await userWithPin();
      const jwe = await encryptWithJose(key.publicKeyJwk, '7395');
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin: jwe })).valid).toBe(true);
      const [header, encryptedKey, iv, ciphertext, tag] = jwe.split('.');
      const variant = [header, withOtherTrailingBits(encryptedKey), iv, ciphertext, tag].join('.');
      expect(variant).not.toBe(jwe);
      expect((await decrypt(t, { encryptedData: variant }, t.as('service'))).data?.decryptData.data).toBe('7395');
      expect(errorCode(await user.call('verifyTransactionPin', { encryptedPin: variant }))).toBe('CIPHERTEXT_REPLAYED');
    });

    it('consumes a ciphertext whose secret was wrong: a captured failed attempt cannot be replayed', async () => {
      const user = await userWithPin();
      const wrong = await user.encrypt('9173');
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin: wrong }))).toMatchObject({ remainingAttempts: 4 });
      expect(errorCode(await user.call('verifyTransactionPin', { encryptedPin: wrong }))).toBe('CIPHERTEXT_REPLAYED');
      expect(await counters(user.userId)).toEqual({ failed: 1, lockedUntil: null });
    });

    it('consumes a ciphertext submitted while locked, so that it cannot be replayed after the lock', async () => {
      const user = await userWithPin();
      for (let i = 0; i < 5; i += 1) await user.verifyPin('9173');
      const right = await user.encrypt('7395');
      expect(errorCode(await user.call('verifyTransactionPin', { encryptedPin: right }))).toBe('CREDENTIAL_LOCKED');
      const start = t.clock.now();
      try {
        t.clock.advanceMs(15 * MINUTE);
        expect(errorCode(await user.call('verifyTransactionPin', { encryptedPin: right }))).toBe('CIPHERTEXT_REPLAYED');
      } finally {
        t.clock.set(start);
      }
    });

    it('lets exactly one of racing identical submissions through, counting one attempt', async () => {
      const user = await userWithPin();
      const wrong = await user.encrypt('9173');
      verifySpy.mockClear();
      const responses = await Promise.all(
        Array.from({ length: 6 }, () => user.call('verifyTransactionPin', { encryptedPin: wrong })),
      );
      expect(responses.filter((response) => !response.errors).map(verifyResult)).toEqual([
        { valid: false, remainingAttempts: 4, lockedUntil: null },
      ]);
      expect(responses.filter((response) => errorCode(response) === 'CIPHERTEXT_REPLAYED')).toHaveLength(5);
      expect(verifySpy).toHaveBeenCalledTimes(1);
      expect(await counters(user.userId)).toEqual({ failed: 1, lockedUntil: null });
    });

    it('lets exactly one of racing identical sets through', async () => {
      const device = authDevice(t, key, newUserId());
      const encryptedPin = await device.encrypt('7395');
      const responses = await Promise.all(
        Array.from({ length: 4 }, () => device.call('setTransactionPin', { encryptedPin })),
      );
      expect(responses.filter((response) => response.data?.setTransactionPin === true)).toHaveLength(1);
      expect(responses.filter((response) => errorCode(response) === 'CIPHERTEXT_REPLAYED')).toHaveLength(3);
    });

    it('does not accept a ciphertext once used by another operation, or for another user', async () => {
      const user = await userWithPin();
      const other = await userWithPin();
      const encryptedPin = await user.encrypt('7395');
      expect(verifyResult(await user.call('verifyTransactionPin', { encryptedPin })).valid).toBe(true);
      expect(errorCode(await other.call('verifyTransactionPin', { encryptedPin }))).toBe('CIPHERTEXT_REPLAYED');
      expect(errorCode(await user.call('changeTransactionPin', { encryptedCurrentPin: encryptedPin, encryptedNewPin: await user.encrypt('9173') }))).toBe(
        'CIPHERTEXT_REPLAYED',
      );
      expect(await counters(other.userId)).toEqual({ failed: 0, lockedUntil: null });
    });
  });
});
