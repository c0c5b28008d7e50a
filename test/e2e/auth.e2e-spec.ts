import { createHash } from 'node:crypto';
import { hashRaw } from '@node-rs/argon2';
import { CredentialHasher } from '../../src/auth/crypto/credential-hasher';
import { MetricsRecorder } from '../../src/telemetry';
import { authCall, authDevice, newUserId } from '../support/auth-operations';
import { encryptWithJose, encryptWithOpenssl, encryptWithWebCrypto } from '../support/clients';
import { errorCode, GeneratedKey, generateKey, newDeviceId } from '../support/operations';
import { openStoredHash } from '../support/credential-hash';
import { startTestApp, TestApp } from '../support/test-app';

/** Cheap argon2 here so the suite stays fast; one test below runs the defaults. */
const CHEAP_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' };

describe('auth: passcode and transaction PIN', () => {
  let t: TestApp;
  let key: GeneratedKey;
  const responses: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: CHEAP_ARGON2 });
    key = await generateKey(t, newDeviceId());
  });
  afterAll(() => t.close());

  /** A user on the suite's key whose responses are all kept for the check above. */
  const user = (userId = newUserId(), onKey = key) => {
    const device = authDevice(t, onKey, userId);
    const recorded = <A extends unknown[]>(call: (...args: A) => Promise<any>) => async (...args: A) => {
      const response = await call(...args);
      responses.push(response);
      return response;
    };
    return {
      ...device,
      setPasscode: recorded(device.setPasscode),
      verifyPasscode: recorded(device.verifyPasscode),
      changePasscode: recorded(device.changePasscode),
      setPin: recorded(device.setPin),
      verifyPin: recorded(device.verifyPin),
      changePin: recorded(device.changePin),
    };
  };
  const row = (userId: string) => t.prisma.userCredential.findUnique({ where: { userId } });

  describe('set and verify', () => {
    it('verifies the right passcode and refuses a wrong one, from WebCrypto, jose and openssl', async () => {
      const alice = user();
      expect((await alice.setPasscode('s3cret-passcode')).data).toEqual({ setPasscode: true });
      expect((await alice.verifyPasscode('s3cret-passcode')).data!.verifyPasscode).toEqual({
        valid: true,
        remainingAttempts: 5,
        lockedUntil: null,
      });
      expect((await alice.verifyPasscode('s3cret-passcode', true)).data!.verifyPasscode.valid).toBe(true);
      const fromOpenssl = await encryptWithOpenssl(key.publicKey, 's3cret-passcode');
      const viaOpenssl = await alice.call('verifyPasscode', { encryptedPasscode: fromOpenssl });
      expect(viaOpenssl.data!.verifyPasscode.valid).toBe(true);
      expect((await alice.verifyPasscode('s3cret-passcodE')).data!.verifyPasscode).toEqual({
        valid: false,
        remainingAttempts: 4,
        lockedUntil: null,
      });
    });

    it('verifies the right PIN and refuses a wrong one', async () => {
      const bob = user();
      expect((await bob.setPin('482915')).data).toEqual({ setTransactionPin: true });
      expect((await bob.verifyPin('482915', true)).data!.verifyTransactionPin).toEqual({
        valid: true,
        remainingAttempts: 5,
        lockedUntil: null,
      });
      expect((await bob.verifyPin('482916')).data!.verifyTransactionPin.valid).toBe(false);
      expect((await bob.verifyPin('4829')).data!.verifyTransactionPin.valid).toBe(false);
    });

    it('compares passcodes in Unicode NFC: é typed either way is the same passcode', async () => {
      const carol = user();
      await carol.setPasscode('caf\u00e9-latte');
      expect((await carol.verifyPasscode('cafe\u0301-latte')).data!.verifyPasscode.valid).toBe(true);
    });

    it('counts passcode and PIN failures separately, and a success resets the count', async () => {
      const dave = user();
      await dave.setPasscode('passcode-1');
      await dave.setPin('1357');
      await dave.verifyPasscode('wrong-1');
      await dave.verifyPasscode('wrong-2');
      expect((await dave.verifyPin('1358')).data!.verifyTransactionPin.remainingAttempts).toBe(4);
      expect((await dave.verifyPasscode('wrong-3')).data!.verifyPasscode.remainingAttempts).toBe(2);
      expect(await row(dave.userId)).toMatchObject({ passcodeFailedAttempts: 3, pinFailedAttempts: 1 });

      expect((await dave.verifyPasscode('passcode-1')).data!.verifyPasscode.remainingAttempts).toBe(5);
      expect((await dave.verifyPasscode('wrong-4')).data!.verifyPasscode.remainingAttempts).toBe(4);
      expect(await row(dave.userId)).toMatchObject({ passcodeFailedAttempts: 1, pinFailedAttempts: 1 });
    });

    it('refuses to overwrite an existing credential with set (BAD_USER_INPUT)', async () => {
      const erin = user();
      await erin.setPin('2580');
      const again = await erin.setPin('1470');
      expect(errorCode(again)).toBe('BAD_USER_INPUT');
      expect((await erin.verifyPin('2580')).data!.verifyTransactionPin.valid).toBe(true);
      expect((await erin.verifyPin('1470')).data!.verifyTransactionPin.valid).toBe(false);
    });

    it('stores one credential when two sets race', async () => {
      const frank = user();
      const results = await Promise.all([frank.setPin('2468'), frank.setPin('1379'), frank.setPin('8024')]);
      expect(results.filter((result) => result.data?.setTransactionPin === true)).toHaveLength(1);
      expect(results.filter((result) => errorCode(result) === 'BAD_USER_INPUT')).toHaveLength(2);
    });
  });

  describe('policy', () => {
    it.each([
      ['0000', 'REPEATED_DIGIT'],
      ['999999', 'REPEATED_DIGIT'],
      ['1234', 'SEQUENCE'],
      ['987654', 'SEQUENCE'],
      ['12345', 'LENGTH'],
      ['1234567', 'LENGTH'],
      ['12a4', 'NOT_DIGITS'],
    ])('refuses the PIN %s with WEAK_CREDENTIAL (%s) and stores nothing', async (pin, violation) => {
      const weak = user();
      const response = await weak.setPin(pin);
      expect(errorCode(response)).toBe('WEAK_CREDENTIAL');
      expect(response.errors![0].extensions.violation).toBe(violation);
      expect(await row(weak.userId)).toBeNull();
    });

    it('refuses a passcode shorter than 6 or longer than 64 characters', async () => {
      const weak = user();
      expect(errorCode(await weak.setPasscode('12345'))).toBe('WEAK_CREDENTIAL');
      const tooLong = await weak.call('setPasscode', { encryptedPasscode: await encryptWithJose(key.publicKeyJwk, 'p'.repeat(65)) });
      expect(errorCode(tooLong)).toBe('WEAK_CREDENTIAL');
      expect((await weak.setPasscode('123456')).data).toEqual({ setPasscode: true });
      const longest = user();
      expect((await longest.setPasscode('p'.repeat(64))).data).toEqual({ setPasscode: true });
    });

    it('a refused secret is not consumed: resubmitting it says WEAK_CREDENTIAL again', async () => {
      const weak = user();
      const encryptedPin = await weak.encrypt('1111');
      expect(errorCode(await weak.call('setTransactionPin', { encryptedPin }))).toBe('WEAK_CREDENTIAL');
      expect(errorCode(await weak.call('setTransactionPin', { encryptedPin }))).toBe('WEAK_CREDENTIAL');
    });
  });

  describe('change', () => {
    it('replaces the passcode when the current one is right', async () => {
      const grace = user();
      await grace.setPasscode('first-passcode');
      await grace.verifyPasscode('not-it');
      expect((await grace.changePasscode('first-passcode', 'second-passcode')).data).toEqual({ changePasscode: true });
      expect((await grace.verifyPasscode('first-passcode')).data!.verifyPasscode.valid).toBe(false);
      expect((await grace.verifyPasscode('second-passcode')).data!.verifyPasscode).toEqual({
        valid: true,
        remainingAttempts: 5,
        lockedUntil: null,
      });
    });

    it('says false for a wrong current PIN and counts it as an attempt', async () => {
      const heidi = user();
      await heidi.setPin('5823');
      expect((await heidi.changePin('5824', '9173')).data).toEqual({ changeTransactionPin: false });
      expect((await row(heidi.userId))!.pinFailedAttempts).toBe(1);
      expect((await heidi.verifyPin('9173')).data!.verifyTransactionPin.valid).toBe(false);
      expect((await heidi.verifyPin('5823')).data!.verifyTransactionPin).toMatchObject({ valid: true, remainingAttempts: 5 });
    });

    it('checks the new PIN first: a weak one is WEAK_CREDENTIAL and costs no attempt', async () => {
      const ivan = user();
      await ivan.setPin('5823');
      const response = await ivan.changePin('5823', '4321');
      expect(errorCode(response)).toBe('WEAK_CREDENTIAL');
      expect((await row(ivan.userId))!.pinFailedAttempts).toBe(0);
      expect((await ivan.verifyPin('5823')).data!.verifyTransactionPin.valid).toBe(true);
    });

    it('answers false without an existing credential, exactly as for a wrong current one', async () => {
      const judy = user();
      await judy.setPasscode('only-a-passcode');
      expect((await judy.changePin('5823', '9173')).data).toEqual({ changeTransactionPin: false });
      expect((await user().changePasscode('whatever-1', 'whatever-2')).data).toEqual({ changePasscode: false });
      expect((await row(judy.userId))!.pinHash).toBeNull();
    });

    it('takes each of its two ciphertexts once', async () => {
      const ken = user();
      await ken.setPin('5823');
      const encryptedCurrentPin = await ken.encrypt('5823');
      const encryptedNewPin = await ken.encrypt('9173');
      const first = await ken.call('changeTransactionPin', { encryptedCurrentPin, encryptedNewPin });
      expect(first.data).toEqual({ changeTransactionPin: true });
      const replayed = await ken.call('changeTransactionPin', { encryptedCurrentPin, encryptedNewPin });
      expect(errorCode(replayed)).toBe('CIPHERTEXT_REPLAYED');
      const reusedCurrent = await ken.call('verifyTransactionPin', { encryptedPin: encryptedCurrentPin });
      expect(errorCode(reusedCurrent)).toBe('CIPHERTEXT_REPLAYED');
    });
  });

  describe('unknown users', () => {
    it('cannot be told from a known user with wrong secrets: same answers, same lock-out, same hashing work', async () => {
      const hasher = t.app.get(CredentialHasher);
      const dummy = jest.spyOn(hasher, 'verifyAgainstNothing');
      try {
        const known = user();
        await known.setPin('7395');
        const stranger = user();
        // A user with a passcode but no PIN is "unknown" for the PIN.
        const half = user();
        await half.setPasscode('half-passcode');

        const answers = async (who: ReturnType<typeof user>) => {
          const seen: unknown[] = [];
          for (let attempt = 0; attempt < 6; attempt += 1) {
            const response = await who.verifyPin('7396');
            seen.push(response.errors ? errorCode(response) : response.data!.verifyTransactionPin);
          }
          return seen;
        };
        const knownAnswers = await answers(known);
        expect(knownAnswers.slice(0, 4)).toEqual([4, 3, 2, 1].map((remainingAttempts) => ({ valid: false, remainingAttempts, lockedUntil: null })));
        expect(knownAnswers[4]).toEqual({ valid: false, remainingAttempts: 0, lockedUntil: expect.any(String) });
        expect(knownAnswers[5]).toBe('CREDENTIAL_LOCKED');
        expect(await answers(stranger)).toEqual(knownAnswers);
        expect(await answers(half)).toEqual(knownAnswers);
        expect((await stranger.verifyPasscode('any-passcode')).data!.verifyPasscode).toEqual(knownAnswers[0]);

        // Five checked attempts each for the stranger (PIN) and the half-known user, one for the stranger's passcode.
        expect(dummy).toHaveBeenCalledTimes(11);
        expect(await row(stranger.userId)).toMatchObject({ pinHash: null, passcodeHash: null, pinFailedAttempts: 5 });
        expect(await row(half.userId)).toMatchObject({ pinHash: null, pinFailedAttempts: 5 });
      } finally {
        dummy.mockRestore();
      }
    });

    it('can still set a credential after attempts against it while it did not exist', async () => {
      const late = user();
      expect((await late.verifyPin('7396')).data!.verifyTransactionPin.valid).toBe(false);
      expect((await late.setPin('7395')).data).toEqual({ setTransactionPin: true });
      expect((await late.verifyPin('7395')).data!.verifyTransactionPin).toEqual({ valid: true, remainingAttempts: 5, lockedUntil: null });
    });
  });

  describe('inputs, ciphertexts and keys', () => {
    // Tests here move the clock; the suite's key must stay usable for the others.
    let start: Date;
    beforeEach(() => {
      start = t.clock.now();
    });
    afterEach(() => t.clock.set(start));

    it('validates userId (printable, 1 to 128) and requires keyId', async () => {
      const encryptedPin = await encryptWithWebCrypto(key.publicKey, '7395');
      for (const userId of ['', 'u'.repeat(129), 'nul\u0000byte', ' padded', 'tab\there']) {
        const response = await authCall(t, 'verifyTransactionPin', { userId, keyId: key.keyId, encryptedPin });
        expect({ userId, code: errorCode(response) }).toEqual({ userId, code: 'BAD_USER_INPUT' });
      }
      const withoutKey = await authCall(t, 'verifyTransactionPin', { userId: newUserId(), encryptedPin });
      expect(errorCode(withoutKey)).toBe('BAD_USER_INPUT');
      expect((await authCall(t, 'verifyTransactionPin', { userId: 'u'.repeat(128), keyId: key.keyId, encryptedPin })).errors).toBeUndefined();
    });

    it('says DECRYPTION_FAILED for bad ciphertexts, and counts no attempt', async () => {
      const other = await generateKey(t, newDeviceId());
      const leo = user();
      await leo.setPin('7395');
      const jwe = await encryptWithJose(key.publicKeyJwk, '7395');
      const [header, encryptedKey, iv, ciphertext, tag] = jwe.split('.');
      const flipped = Buffer.from(tag, 'base64url');
      flipped[0] ^= 1;
      const cases = {
        garbage: 'not a ciphertext',
        'another key': await encryptWithWebCrypto(other.publicKey, '7395'),
        'tampered JWE': [header, encryptedKey, iv, ciphertext, flipped.toString('base64url')].join('.'),
        'JWE for another kid': await encryptWithJose(other.publicKeyJwk, '7395'),
      };
      for (const [label, encryptedPin] of Object.entries(cases)) {
        expect({ label, code: errorCode(await leo.call('verifyTransactionPin', { encryptedPin })) }).toEqual({
          label,
          code: 'DECRYPTION_FAILED',
        });
      }
      expect(errorCode(await leo.call('verifyTransactionPin', { encryptedPin: 'A'.repeat(2049) }))).toBe('PAYLOAD_TOO_LARGE');
      expect((await row(leo.userId))!.pinFailedAttempts).toBe(0);
      expect(await t.prisma.consumedCiphertext.count({ where: { keyId: other.keyId } })).toBe(0);
    });

    it('follows the key lifecycle: revoked and unknown keys are refused, expired ones still decrypt', async () => {
      const deviceKey = await generateKey(t, newDeviceId());
      const mia = user(newUserId(), deviceKey);
      await mia.setPin('7395');

      t.clock.advanceDays(31);
      expect((await mia.verifyPin('7395')).data!.verifyTransactionPin.valid).toBe(true);
      const consumed = await t.prisma.consumedCiphertext.findMany({ where: { keyId: deviceKey.keyId } });
      expect(consumed).toHaveLength(2);
      // Kept until the key can decrypt nothing more: expiry + KEY_RETENTION_DAYS.
      const retentionEnd = new Date(new Date(deviceKey.expiresAt).getTime() + 90 * 24 * 3600 * 1000);
      for (const record of consumed) expect(record.expiresAt).toEqual(retentionEnd);

      const unknownKey = await mia.call('verifyTransactionPin', { keyId: 'no-such-key', encryptedPin: await mia.encrypt('7395') });
      expect(errorCode(unknownKey)).toBe('KEY_NOT_FOUND');

      await t.prisma.clientEncryptionKey.update({ where: { id: deviceKey.keyId }, data: { revokedAt: t.clock.now() } });
      await t.settled(); // the app's key cache learns of the change by notification
      expect(errorCode(await mia.verifyPin('7395'))).toBe('KEY_REVOKED');
      expect(errorCode(await mia.changePin('7395', '9173'))).toBe('KEY_REVOKED');
      expect((await row(mia.userId))!.pinFailedAttempts).toBe(0);
    });

    it('refuses a key past its retention (KEY_NOT_FOUND)', async () => {
      const deviceKey = await generateKey(t, newDeviceId());
      const nina = user(newUserId(), deviceKey);
      await nina.setPasscode('nina-passcode');
      t.clock.advanceDays(30 + 90);
      expect(errorCode(await nina.verifyPasscode('nina-passcode'))).toBe('KEY_NOT_FOUND');
    });
  });

  describe('storage', () => {
    it('keeps neither the plaintext nor a hash that can be checked without the pepper', async () => {
      const olga = user();
      await olga.setPin('482915');
      await olga.setPasscode('s3cret-passcode');
      const stored = (await row(olga.userId))!;
      const everything = JSON.stringify(stored);
      expect(everything).not.toContain('482915');
      expect(everything).not.toContain('s3cret-passcode');
      expect(everything).not.toContain('$argon2');

      for (const [secret, column] of [['482915', 'pinHash'], ['s3cret-passcode', 'passcodeHash']] as const) {
        // kmsp1.<pepper id>.<iv>.<ciphertext>.<tag>: AES-256-GCM under a key derived from the pepper.
        expect(stored[column]!.split('.').slice(0, 2)).toEqual(['kmsp1', '0']);
        const phc = openStoredHash(t, stored[column]!, olga.userId, column);
        // Inside: argon2id of the secret with the configured parameters (the method is right).
        const [, algorithm, version, params, salt, digest] = phc.split('$');
        expect([algorithm, version, params]).toEqual(['argon2id', 'v=19', 'm=8192,t=1,p=1']);
        const options = { memoryCost: 8192, timeCost: 1, parallelism: 1, salt: Buffer.from(salt, 'base64') };
        expect((await hashRaw(secret, options)).toString('base64').replace(/=+$/, '')).toBe(digest);
      }
    });

    it('stores nothing from the ciphertext but a SHA-256 of its RSA bytes', async () => {
      const encryptedPin = await encryptWithWebCrypto(key.publicKey, '6093');
      await authCall(t, 'setTransactionPin', { userId: newUserId(), keyId: key.keyId, encryptedPin });
      const rsaBytes = Buffer.from(encryptedPin, 'base64');
      const sha256 = createHash('sha256').update(rsaBytes).digest('hex');
      expect(await t.prisma.consumedCiphertext.findUnique({ where: { hash: sha256 } })).not.toBeNull();
    });
  });

  describe('metrics', () => {
    it('writes one EncryptionMetric row per auth operation, named after the mutation', async () => {
      const deviceId = newDeviceId('auth-metrics');
      const measured = await generateKey(t, deviceId);
      const pat = user(newUserId(), measured);
      const calls = [
        () => pat.setPasscode('pat-passcode'),
        () => pat.verifyPasscode('pat-passcode'),
        () => pat.changePasscode('pat-passcode', 'pat-passcode-2'),
        () => pat.setPin('7395'),
        () => pat.verifyPin('0000'),
        () => pat.changePin('7395', '1234'),
      ];
      for (const call of calls) {
        t.clock.advanceMs(1000); // rows are ordered by their timestamp
        await call();
      }
      await t.app.get(MetricsRecorder).flush();
      const rows = await t.prisma.encryptionMetric.findMany({
        where: { keyId: measured.keyId, operation: { not: 'generate' } },
        orderBy: { timestamp: 'asc' },
      });
      expect(rows.map(({ operation, status, errorReason, deviceId: device }) => ({ operation, status, errorReason, device }))).toEqual([
        { operation: 'setPasscode', status: 'success', errorReason: null, device: deviceId },
        { operation: 'verifyPasscode', status: 'success', errorReason: null, device: deviceId },
        { operation: 'changePasscode', status: 'success', errorReason: null, device: deviceId },
        { operation: 'setTransactionPin', status: 'success', errorReason: null, device: deviceId },
        // A wrong PIN answers valid: false, and is measured as a refused check.
        { operation: 'verifyTransactionPin', status: 'failure', errorReason: 'CREDENTIAL_INVALID', device: deviceId },
        { operation: 'changeTransactionPin', status: 'failure', errorReason: 'WEAK_CREDENTIAL', device: deviceId },
      ]);
    });
  });

  // Last, so that it reads every response the tests above kept (jest runs a file's tests in order).
  it('answered no response with a secret, a hash or key material', () => {
    expect(responses.length).toBeGreaterThan(50);
    expect(JSON.stringify(responses)).toContain('remainingAttempts');
    expect(JSON.stringify(responses)).not.toMatch(/argon2|PRIVATE KEY|482915|s3cret-passcode/);
  });
});

describe('auth with the default argon2 parameters', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('hashes with argon2id m=19456 KiB, t=2, p=1 and verifies', async () => {
    expect(t.config.auth.argon2).toEqual({ memoryKib: 19456, timeCost: 2, parallelism: 1 });
    const key = await generateKey(t, newDeviceId());
    const quinn = authDevice(t, key, newUserId());
    expect((await quinn.setPin('7395')).data).toEqual({ setTransactionPin: true });
    expect((await quinn.verifyPin('7395')).data!.verifyTransactionPin.valid).toBe(true);
    expect((await quinn.verifyPin('7359')).data!.verifyTransactionPin.valid).toBe(false);
    const stored = await t.prisma.userCredential.findUniqueOrThrow({ where: { userId: quinn.userId } });
    expect(openStoredHash(t, stored.pinHash!, quinn.userId, 'pinHash')).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('upgrades a hash made with other parameters at the next successful verification', async () => {
    const cheap = await startTestApp({ env: CHEAP_ARGON2, database: t.database });
    const key = await generateKey(cheap, newDeviceId());
    const userId = newUserId();
    try {
      expect((await authDevice(cheap, key, userId).setPin('7395')).data).toEqual({ setTransactionPin: true });
    } finally {
      await cheap.close();
    }
    const pinHash = async () =>
      openStoredHash(t, (await t.prisma.userCredential.findUniqueOrThrow({ where: { userId } })).pinHash!, userId, 'pinHash');
    expect(await pinHash()).toMatch(/\$m=8192,t=1,p=1\$/);
    const rita = authDevice(t, key, userId);
    expect((await rita.verifyPin('7359')).data!.verifyTransactionPin.valid).toBe(false);
    expect(await pinHash()).toMatch(/\$m=8192,t=1,p=1\$/);
    expect((await rita.verifyPin('7395')).data!.verifyTransactionPin).toEqual({ valid: true, remainingAttempts: 5, lockedUntil: null });
    expect(await pinHash()).toMatch(/\$m=19456,t=2,p=1\$/);
    expect((await t.prisma.userCredential.findUniqueOrThrow({ where: { userId } })).pinFailedAttempts).toBe(0);
    expect((await rita.verifyPin('7395')).data!.verifyTransactionPin.valid).toBe(true);
  });
});
