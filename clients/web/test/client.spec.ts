import { constants, privateDecrypt } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { KmsClient, KmsClientError, memoryStorage, webStorage, type KmsClientOptions } from '../src/index.js';
import { FakeKms, json, rejection, rsaPair, testClock } from './fake-kms.js';

const ENDPOINT = 'https://kms.example.test/graphql';
const MINUTE = 60_000;
const { publicKeyPem, privateKey } = rsaPair();

function setup(options: Partial<KmsClientOptions> = {}) {
  const kms = new FakeKms(publicKeyPem);
  const clock = testClock();
  const client = (more: Partial<KmsClientOptions> = {}) =>
    new KmsClient({ endpoint: ENDPOINT, deviceId: 'device-1', fetch: kms.fetch, now: clock.now, ...options, ...more });
  return { kms, clock, client: client(), newClient: client };
}

describe('KmsClient: which key', () => {
  it("asks activeEncryptionKey first and takes the device's existing key without generating", async () => {
    const { kms, client } = setup();
    kms.active = kms.key('existing');
    expect((await client.getKey()).keyId).toBe('existing');
    expect(kms.operations).toEqual(['active']);
    expect(kms.requests[0].variables).toEqual({ deviceId: 'device-1' });
  });

  it('generates only when activeEncryptionKey is null, for the deviceId and appVersion', async () => {
    const { kms, client } = setup({ appVersion: '3.1.4' });
    expect((await client.getKey()).keyId).toBe('generated-1');
    expect(kms.operations).toEqual(['active', 'generate']);
    expect(kms.requests[1].variables).toEqual({ input: { deviceId: 'device-1', appVersion: '3.1.4' } });
  });

  it('keeps the key until one minute before expiresAt, then asks activeEncryptionKey again', async () => {
    const { kms, clock, client } = setup();
    kms.active = kms.key('k1', new Date(clock.now() + 10 * MINUTE).toISOString());
    await client.getKey();
    clock.advance(8 * MINUTE);
    await client.encryptSecret('1357');
    await client.encryptData('still cached');
    expect(kms.operations).toEqual(['active']);
    clock.advance(MINUTE + 1);
    kms.active = kms.key('k2');
    expect((await client.getKey()).keyId).toBe('k2');
    expect(kms.operations).toEqual(['active', 'active']);
  });

  it('keeps a key without expiresAt until it is invalidated', async () => {
    const { kms, clock, client } = setup();
    kms.active = kms.key('forever', null);
    await client.getKey();
    clock.advance(365 * 24 * 60 * MINUTE);
    expect((await client.getKey()).keyId).toBe('forever');
    expect(kms.operations).toEqual(['active']);
  });

  it('shares one lookup between concurrent calls: one generation for a burst of encryptions', async () => {
    const { kms, client } = setup();
    const results = await Promise.all([client.getKey(), client.encryptSecret('2468'), client.encryptData('x')]);
    expect(results.map((result) => result.keyId)).toEqual(['generated-1', 'generated-1', 'generated-1']);
    expect(kms.operations).toEqual(['active', 'generate']);
  });
});

describe('KmsClient: errors the backend relays', () => {
  it.each(['KEY_EXPIRED', 'KEY_REVOKED', 'KEY_NOT_FOUND'])(
    'handleKmsError(%s) drops the key; the next use asks activeEncryptionKey, then generates',
    async (code) => {
      const { kms, client } = setup();
      kms.active = kms.key('old');
      await client.getKey();
      expect(await client.handleKmsError(code)).toBe(true);
      kms.active = null; // the KMS no longer offers it
      const again = await client.encryptSecret('9731');
      expect(again.keyId).toBe('generated-1');
      expect(kms.operations).toEqual(['active', 'active', 'generate']);
    },
  );

  it('takes the next active key when the KMS has one (an operator rotated the device key)', async () => {
    const { kms, client } = setup();
    kms.active = kms.key('old');
    await client.getKey();
    kms.active = kms.key('rotated');
    await client.handleKmsError('KEY_REVOKED');
    expect((await client.getKey()).keyId).toBe('rotated');
    expect(kms.operations).toEqual(['active', 'active']);
  });

  it('generates when activeEncryptionKey still answers with the key the backend rejected', async () => {
    const { kms, client } = setup();
    kms.active = kms.key('rejected');
    await client.getKey();
    await client.invalidateKey();
    expect((await client.getKey()).keyId).toBe('generated-1');
    expect(kms.operations).toEqual(['active', 'active', 'generate']);
  });

  it('keeps the key for other codes, and for a report about an older key', async () => {
    const { kms, client } = setup();
    kms.active = kms.key('current');
    await client.getKey();
    for (const code of ['DECRYPTION_FAILED', 'CREDENTIAL_LOCKED', 'CIPHERTEXT_REPLAYED', 'SOMETHING_NEW']) {
      expect(await client.handleKmsError(code)).toBe(false);
    }
    expect(await client.handleKmsError('KEY_EXPIRED', 'an-older-key')).toBe(true);
    expect((await client.getKey()).keyId).toBe('current');
    expect(kms.operations).toEqual(['active']);
  });
});

describe('KmsClient: RATE_LIMITED', () => {
  it('surfaces retryAfterSeconds as a typed error and asks nothing of the KMS until then', async () => {
    const { kms, clock, client } = setup();
    kms.rateLimitedFor = 120;
    const first = await rejection(client.getKey());
    expect(first).toBeInstanceOf(KmsClientError);
    expect([first.code, first.retryAfterSeconds]).toEqual(['RATE_LIMITED', 120]);
    expect(kms.operations).toEqual(['active', 'generate']);

    clock.advance(119_000);
    const blocked = await rejection(client.encryptSecret('5791'));
    expect([blocked.code, blocked.retryAfterSeconds]).toEqual(['RATE_LIMITED', 1]);
    expect(kms.operations).toHaveLength(2); // no request at all while blocked

    clock.advance(1_000);
    kms.rateLimitedFor = undefined;
    expect((await client.getKey()).keyId).toBe('generated-1');
    expect(kms.operations).toEqual(['active', 'generate', 'active', 'generate']);
  });

  it('keeps the deadline in storage: a page reload does not generate again before it', async () => {
    const storage = memoryStorage();
    const { kms, clock, newClient } = setup({ storage });
    kms.rateLimitedFor = 30;
    await rejection(newClient().getKey());
    clock.advance(10_000);
    const afterReload = await rejection(newClient().getKey());
    expect([afterReload.code, afterReload.retryAfterSeconds]).toEqual(['RATE_LIMITED', 20]);
    expect(kms.operations).toEqual(['active', 'generate']);
  });
});

describe('KmsClient: storage', () => {
  it('a reload on the same storage (localStorage through webStorage) reuses the key with no request', async () => {
    const values = new Map<string, string>();
    const localStorageLike = {
      getItem: (k: string) => values.get(k) ?? null,
      setItem: (k: string, v: string) => void values.set(k, v),
      removeItem: (k: string) => void values.delete(k),
    };
    const { kms, newClient } = setup({ storage: webStorage(localStorageLike) });
    const first = await newClient().getKey();
    expect((await newClient().getKey()).keyId).toBe(first.keyId);
    expect(kms.operations).toEqual(['active', 'generate']);
    expect([...values.values()].join()).not.toMatch(/PRIVATE/);
  });

  it('storage that throws or holds garbage only costs an activeEncryptionKey lookup, never a generation', async () => {
    for (const storage of [
      { get: () => '{not json', set: () => undefined, remove: () => undefined },
      {
        get: () => {
          throw new Error('SecurityError');
        },
        set: () => {
          throw new Error('QuotaExceededError');
        },
        remove: () => undefined,
      },
    ]) {
      const { kms, newClient } = setup({ storage });
      kms.active = kms.key('existing');
      expect((await newClient().getKey()).keyId).toBe('existing');
      expect((await newClient().getKey()).keyId).toBe('existing');
      expect(kms.operations).toEqual(['active', 'active']);
    }
  });
});

describe('KmsClient: transport', () => {
  it('POSTs JSON to the endpoint with the client API key as a Bearer token, and none without one', async () => {
    const { kms, client, newClient } = setup({ apiKey: 'client-key-for-tests' });
    await client.getKey();
    expect(kms.requests[0].url).toBe(ENDPOINT);
    expect(kms.requests[0].headers).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer client-key-for-tests',
    });
    await newClient({ apiKey: undefined, deviceId: 'device-2' }).getKey();
    expect(kms.requests.at(-1)!.headers).toEqual({ 'content-type': 'application/json' });
  });

  it("turns the KMS's errors into KmsClientError with its code, and a failed fetch into NETWORK_ERROR", async () => {
    const answers = [
      json({ errors: [{ message: 'Missing or invalid API key', extensions: { code: 'UNAUTHENTICATED' } }] }, 200),
      json({ errors: [{ message: 'database restarting', extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 3 } }] }),
      new Response('<html>bad gateway</html>', { status: 502 }),
      json({ data: null }, 500),
    ];
    const expected = [
      ['UNAUTHENTICATED', undefined],
      ['SERVICE_UNAVAILABLE', 3],
      ['NETWORK_ERROR', undefined],
      ['NETWORK_ERROR', undefined],
      ['NETWORK_ERROR', undefined],
    ];
    const fetches = [...answers.map((answer) => async () => answer), async (): Promise<Response> => {
      throw new TypeError('fetch failed');
    }];
    const seen = [];
    for (const fetch of fetches) {
      const error = await rejection(new KmsClient({ endpoint: ENDPOINT, deviceId: 'd', fetch }).getKey());
      expect(error).toBeInstanceOf(KmsClientError);
      seen.push([error.code, error.retryAfterSeconds]);
    }
    expect(seen).toEqual(expected);
  });
});

describe('KmsClient: encryption with the device key', () => {
  it('encryptSecret gives raw OAEP-SHA256 and encryptData a JWE, both for the current keyId', async () => {
    const { kms, client } = setup();
    kms.active = kms.key('key-42');
    const pin = await client.encryptSecret('739146');
    expect(pin.keyId).toBe('key-42');
    expect(
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from(pin.encryptedData, 'base64'),
      ).toString(),
    ).toBe('739146');
    const data = await client.encryptData('{"iban":"DE89370400440532013000"}');
    const { plaintext, protectedHeader } = await compactDecrypt(data.encryptedData, privateKey);
    expect([data.keyId, protectedHeader.kid, new TextDecoder().decode(plaintext)]).toEqual([
      'key-42',
      'key-42',
      '{"iban":"DE89370400440532013000"}',
    ]);
  });

  it('refuses data whose JWE the KMS would refuse (maxEncryptedDataSize, default 2048)', async () => {
    const { kms, newClient } = setup();
    kms.active = kms.key('k');
    // 64 (header with kid "k") + 342 (RSA key) + 16 (iv) + 1600 (1200 bytes) + 22 (tag) + 4 dots = 2048
    expect((await newClient().encryptData('a'.repeat(1200))).encryptedData).toHaveLength(2048);
    expect((await rejection(newClient().encryptData('a'.repeat(1201)))).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await rejection(newClient({ maxEncryptedDataSize: 1000 }).encryptData('a'.repeat(500)))).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });
});
