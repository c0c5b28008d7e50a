import { KmsClient, KmsClientError, type KmsClientOptions } from '../../clients/web/src/index';
import { authCall, newUserId } from '../support/auth-operations';
import { REVOKE_KEY } from '../support/key-rotation';
import { decrypt, errorCode, newDeviceId } from '../support/operations';
import { rememberSecret } from '../support/secrets-ledger';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The web client library (clients/web), running in Node with its real fetch and
 * WebCrypto against the whole service; this test plays the app's backend, with a
 * `service` key, and the operator.
 */
const DAY_SECONDS = 24 * 60 * 60;

describe('web client library against the service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', MAX_KEY_GEN_PER_DEVICE: '2' },
    });
  });
  afterAll(() => t.close());

  const clientApiKey = () => t.as('client').authorization.replace(/^Bearer /, '');
  const device = (deviceId: string, options: Partial<KmsClientOptions> = {}) =>
    new KmsClient({ endpoint: `${t.baseUrl}/graphql`, deviceId, appVersion: 'web-1.0', ...options });
  const keysOf = (deviceId: string) => t.prisma.clientEncryptionKey.findMany({ where: { deviceId } });
  const secret = (value: string) => {
    rememberSecret(value); // the run's log scan looks for it
    return value;
  };

  it('gets one key (a reload finds it through activeEncryptionKey) and encrypts what the backend decrypts', async () => {
    const deviceId = newDeviceId('web');
    const key = await device(deviceId, { apiKey: clientApiKey() }).getKey();
    const reloaded = device(deviceId); // a new page: empty memory, anonymous client
    expect((await reloaded.getKey()).keyId).toBe(key.keyId);
    expect((await keysOf(deviceId)).map((row) => [row.id, row.appVersion])).toEqual([[key.keyId, 'web-1.0']]);

    const passcode = secret('web-passcode-ü-2718');
    const data = secret(JSON.stringify({ iban: 'DE89370400440532013000', note: 'from the web client ✓' }));
    const encryptedPasscode = await reloaded.encryptSecret(passcode);
    const encryptedData = await reloaded.encryptData(data);
    expect(encryptedData.encryptedData.split('.')).toHaveLength(5);

    const answers = await Promise.all([
      decrypt(t, encryptedPasscode),
      decrypt(t, encryptedData),
      decrypt(t, { encryptedData: encryptedData.encryptedData }), // keyId from the JWE kid
    ]);
    expect(answers.map((answer) => answer.data?.decryptData)).toEqual([
      { keyId: key.keyId, data: passcode },
      { keyId: key.keyId, data },
      { keyId: key.keyId, data },
    ]);
  });

  it('encrypts a passcode and a PIN that the backend sets and verifies; a wrong passcode is refused', async () => {
    const client = device(newDeviceId('web'));
    const userId = newUserId('web');
    const call = async (operation: Parameters<typeof authCall>[1], fields: Record<string, string>) => {
      const { keyId, encryptedData } = await client.encryptSecret(secret(fields.value));
      const response = await authCall(t, operation, { userId, keyId, [fields.field]: encryptedData });
      return response.data ?? response.errors;
    };
    expect(await call('setPasscode', { field: 'encryptedPasscode', value: 'correct-horse-31' })).toEqual({
      setPasscode: true,
    });
    expect(await call('verifyPasscode', { field: 'encryptedPasscode', value: 'correct-horse-31' })).toEqual({
      verifyPasscode: { valid: true, remainingAttempts: 5, lockedUntil: null },
    });
    expect(await call('verifyPasscode', { field: 'encryptedPasscode', value: 'wrong-horse-31' })).toEqual({
      verifyPasscode: { valid: false, remainingAttempts: 4, lockedUntil: null },
    });
    expect(await call('setTransactionPin', { field: 'encryptedPin', value: '582046' })).toEqual({
      setTransactionPin: true,
    });
    expect(await call('verifyTransactionPin', { field: 'encryptedPin', value: '582046' })).toEqual({
      verifyTransactionPin: { valid: true, remainingAttempts: 5, lockedUntil: null },
    });
  });

  it('moves to a new key on KEY_REVOKED relayed by the backend, then meets the real RATE_LIMITED', async () => {
    const deviceId = newDeviceId('web');
    let requests = 0;
    const client = device(deviceId, {
      fetch: (url, init) => {
        requests += 1;
        return fetch(url, init); // the real fetch, counted
      },
    });
    const revokeAndRelay = async () => {
      const stale = await client.encryptSecret(secret('stale-passcode-1'));
      const revoked = await t.gql(REVOKE_KEY, { keyId: stale.keyId, reason: 'test' }, t.as('admin'));
      expect(revoked.errors).toBeUndefined();
      const code = errorCode(await decrypt(t, stale)); // what the backend gets, and tells the device
      expect(code).toBe('KEY_REVOKED');
      expect(await client.handleKmsError(code, stale.keyId)).toBe(true);
      return stale.keyId;
    };

    const first = await revokeAndRelay(); // generation 1 of 2
    const fresh = await client.encryptSecret(secret('fresh-passcode-2')); // generation 2
    expect(fresh.keyId).not.toBe(first);
    expect((await decrypt(t, fresh)).data?.decryptData.data).toBe('fresh-passcode-2');

    await revokeAndRelay();
    const before = requests;
    const limited: unknown = await client.getKey().catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(KmsClientError);
    const { code, retryAfterSeconds } = limited as KmsClientError;
    expect(code).toBe('RATE_LIMITED');
    // The window opened with generation 1, moments ago.
    expect(retryAfterSeconds).toBeGreaterThan(DAY_SECONDS - 120);
    expect(retryAfterSeconds).toBeLessThanOrEqual(DAY_SECONDS);
    expect(requests - before).toBe(2); // activeEncryptionKey (null), then generateEncryptionKey

    await expect(client.encryptData('x')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(requests - before).toBe(2); // not asked again before retryAfterSeconds
    expect(await keysOf(deviceId)).toHaveLength(2);
  });
});
