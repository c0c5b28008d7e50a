import { decodeProtectedHeader } from 'jose';
import { PrismaService } from '../../src/database';
import { KeyUsageRecorder } from '../../src/keys/key-usage.recorder';
import { MetricsRecorder } from '../../src/telemetry';
import {
  encryptWithJose,
  encryptWithOpenssl,
  encryptWithWebCrypto,
  toBase64Url,
} from '../support/clients';
import {
  decrypt,
  encrypt,
  errorCode,
  GeneratedKey,
  generateKey,
  newDeviceId,
} from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

describe('decryptData and encryptData', () => {
  let t: TestApp;
  let key: GeneratedKey;
  let otherKey: GeneratedKey;
  const responses: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    key = await generateKey(t, newDeviceId());
    otherKey = await generateKey(t, newDeviceId());
  });
  afterAll(async () => {
    // Whatever went wrong above, no response of this suite carried private key material.
    expect(JSON.stringify(responses)).not.toMatch(/PRIVATE KEY|privateKey|kms1\./);
    await t.close();
  });

  const decryptRecorded = async (input: { keyId?: string | null; encryptedData: string }) => {
    const response = await decrypt(t, input);
    responses.push(response);
    return response;
  };
  const usageOf = async (keyId: string) => {
    await t.app.get(KeyUsageRecorder).flush();
    return t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: keyId }, select: { usageCount: true, lastUsed: true } });
  };

  describe('ciphertexts from independent clients', () => {
    const secret = 'PIN 4821 · passcode ✓ 🔐';

    it('decrypts raw RSA-OAEP-SHA256 from WebCrypto (standard base64)', async () => {
      const encryptedData = await encryptWithWebCrypto(key.publicKey, secret);
      const response = await decryptRecorded({ keyId: key.keyId, encryptedData });
      expect(response.data).toEqual({ decryptData: { keyId: key.keyId, data: secret } });
    });

    it('decrypts raw RSA-OAEP-SHA256 in URL-safe base64 without padding', async () => {
      const encryptedData = toBase64Url(await encryptWithWebCrypto(key.publicKey, secret));
      const response = await decryptRecorded({ keyId: key.keyId, encryptedData });
      expect(response.data?.decryptData.data).toBe(secret);
    });

    it('decrypts what `openssl pkeyutl` (OAEP, SHA-256, MGF1-SHA-256) produces', async () => {
      const encryptedData = await encryptWithOpenssl(key.publicKey, secret);
      const response = await decryptRecorded({ keyId: key.keyId, encryptedData });
      expect(response.data?.decryptData.data).toBe(secret);
    });

    it('decrypts the longest raw plaintext RSA-2048 OAEP-SHA256 allows (190 bytes)', async () => {
      const longest = 'x'.repeat(190);
      const encryptedData = await encryptWithWebCrypto(key.publicKey, longest);
      expect((await decryptRecorded({ keyId: key.keyId, encryptedData })).data?.decryptData.data).toBe(longest);
    });

    it('decrypts JWE compact from jose, taking the key from kid', async () => {
      const encryptedData = await encryptWithJose(key.publicKeyJwk, secret);
      const response = await decryptRecorded({ encryptedData });
      expect(response.data).toEqual({ decryptData: { keyId: key.keyId, data: secret } });
    });

    it('decrypts JWE when keyId and kid agree, and JWE without kid when keyId is given', async () => {
      const withKid = await encryptWithJose(key.publicKeyJwk, secret);
      expect((await decryptRecorded({ keyId: key.keyId, encryptedData: withKid })).data?.decryptData.data).toBe(secret);
      const withoutKid = await encryptWithJose(key.publicKeyJwk, secret, { kid: null });
      expect((await decryptRecorded({ keyId: key.keyId, encryptedData: withoutKid })).data?.decryptData.data).toBe(secret);
    });

    it('counts each successful use in usageCount and lastUsed', async () => {
      const before = await usageOf(otherKey.keyId);
      t.clock.advanceMs(5000);
      const encryptedData = await encryptWithWebCrypto(otherKey.publicKey, 'count me');
      await decryptRecorded({ keyId: otherKey.keyId, encryptedData });
      const after = await usageOf(otherKey.keyId);
      expect(after.usageCount).toBe(before.usageCount + 1);
      expect(after.lastUsed).toEqual(t.clock.now());
    });

    it('writes counted uses in batches, and all of them on shutdown', async () => {
      const own = await startTestApp({ env: { METRICS_FLUSH_INTERVAL_MS: '60000' } });
      const ownKey = await generateKey(own, newDeviceId('usage'));
      const uses = await Promise.all(
        [1, 2, 3].map(async (i) => encryptWithWebCrypto(ownKey.publicKey, `use number ${i}`)),
      );
      for (const encryptedData of uses) await decrypt(own, { keyId: ownKey.keyId, encryptedData });
      const before = await own.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: ownKey.keyId } });
      expect(before.usageCount).toBe(0); // not yet written: the interval is a minute here
      await own.app.close();
      const reader = new PrismaService(own.config);
      try {
        const row = await reader.clientEncryptionKey.findUniqueOrThrow({ where: { id: ownKey.keyId } });
        expect(row.usageCount).toBe(3);
        expect(row.lastUsed).toEqual(own.clock.now());
      } finally {
        await reader.$disconnect();
        await own.database.drop();
      }
    });
  });

  describe('failures', () => {
    it('says only DECRYPTION_FAILED, the same way, whatever went wrong', async () => {
      const good = await encryptWithWebCrypto(key.publicKey, 'tamper me');
      const bytes = Buffer.from(good, 'base64');
      bytes[100] ^= 0x01;
      const jwe = await encryptWithJose(key.publicKeyJwk, 'tamper me');
      const [header, encryptedKey, iv, ciphertext, tag] = jwe.split('.');
      const flip = (part: string) => Buffer.from(Buffer.from(part, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url');

      const cases: Record<string, { keyId?: string; encryptedData: string }> = {
        'encrypted for another key': { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(otherKey.publicKey, 'x') },
        'a flipped ciphertext bit': { keyId: key.keyId, encryptedData: bytes.toString('base64') },
        'not base64': { keyId: key.keyId, encryptedData: 'this is not base64!' },
        'too short for RSA-2048': { keyId: key.keyId, encryptedData: Buffer.alloc(128, 7).toString('base64') },
        'random bytes (bad padding)': { keyId: key.keyId, encryptedData: Buffer.alloc(256, 7).toString('base64') },
        'JWE with a tampered encrypted key': { encryptedData: [header, flip(encryptedKey), iv, ciphertext, tag].join('.') },
        'JWE with a tampered ciphertext': { encryptedData: [header, encryptedKey, iv, flip(ciphertext), tag].join('.') },
        'JWE with a tampered tag': { encryptedData: [header, encryptedKey, iv, ciphertext, flip(tag)].join('.') },
        'JWE whose kid is not the keyId given': { keyId: otherKey.keyId, encryptedData: jwe },
        'JWE with alg RSA-OAEP (SHA-1)': { encryptedData: await encryptWithJose(key.publicKeyJwk, 'x', { alg: 'RSA-OAEP' }) },
        'JWE with enc A128GCM': { encryptedData: await encryptWithJose(key.publicKeyJwk, 'x', { enc: 'A128GCM' }) },
        'a malformed JWE header': { keyId: key.keyId, encryptedData: 'not-json.a.b.c.d' },
      };
      const before = await usageOf(key.keyId);
      const bodies = new Set<string>();
      for (const [label, input] of Object.entries(cases)) {
        const response = await decryptRecorded(input);
        expect({ label, code: errorCode(response) }).toEqual({ label, code: 'DECRYPTION_FAILED' });
        expect(response.data).toBeNull();
        bodies.add(JSON.stringify({ message: response.errors![0].message, extensions: response.errors![0].extensions }));
      }
      expect([...bodies]).toEqual([JSON.stringify({ message: 'Decryption failed', extensions: { code: 'DECRYPTION_FAILED' } })]);
      expect(await usageOf(key.keyId)).toEqual(before);
    });

    it('asks for keyId with BAD_USER_INPUT when neither the input nor the ciphertext names a key', async () => {
      const raw = await encryptWithWebCrypto(key.publicKey, 'x');
      expect(errorCode(await decryptRecorded({ encryptedData: raw }))).toBe('BAD_USER_INPUT');
      const jweWithoutKid = await encryptWithJose(key.publicKeyJwk, 'x', { kid: null });
      expect(errorCode(await decryptRecorded({ encryptedData: jweWithoutKid }))).toBe('BAD_USER_INPUT');
    });

    it('says KEY_NOT_FOUND for a JWE whose kid no key could have (control characters, too long)', async () => {
      for (const kid of ['bad\u0000kid', 'k'.repeat(129), ' padded ']) {
        const encryptedData = await encryptWithJose(key.publicKeyJwk, 'x', { kid });
        expect({ kid, code: errorCode(await decryptRecorded({ encryptedData })) }).toEqual({ kid, code: 'KEY_NOT_FOUND' });
      }
    });

    it('says KEY_NOT_FOUND for a key that does not exist', async () => {
      const raw = await encryptWithWebCrypto(key.publicKey, 'x');
      expect(errorCode(await decryptRecorded({ keyId: 'no-such-key', encryptedData: raw }))).toBe('KEY_NOT_FOUND');
    });

    it('refuses encryptedData over MAX_ENCRYPTED_DATA_SIZE before looking anything up', async () => {
      const response = await decryptRecorded({ keyId: 'no-such-key', encryptedData: 'A'.repeat(2049) });
      expect(errorCode(response)).toBe('PAYLOAD_TOO_LARGE');
      expect(response.errors![0].extensions.maxBytes).toBe(2048);
      const atLimit = await decryptRecorded({ keyId: 'no-such-key', encryptedData: 'A'.repeat(2048) });
      expect(errorCode(atLimit)).toBe('KEY_NOT_FOUND');
    });
  });

  describe('encryptData', () => {
    it('returns JWE compact (RSA-OAEP-256, A256GCM, kid) that decryptData reads back', async () => {
      const data = 'server-side secret ✓';
      const response = await encrypt(t, { keyId: key.keyId, data });
      const { encryptedData } = response.data!.encryptData;
      expect(response.data!.encryptData.keyId).toBe(key.keyId);
      expect(encryptedData.split('.')).toHaveLength(5);
      expect(decodeProtectedHeader(encryptedData)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: key.keyId });
      expect((await decryptRecorded({ encryptedData })).data?.decryptData.data).toBe(data);
    });

    it('refuses data whose ciphertext would exceed MAX_ENCRYPTED_DATA_SIZE, and takes the largest that fits', async () => {
      const sizes = [1000, 1100, 1200];
      const results = await Promise.all(
        sizes.map((size) => encrypt(t, { keyId: key.keyId, data: 'x'.repeat(size) })),
      );
      for (const result of results) {
        if (result.errors) expect(errorCode(result)).toBe('PAYLOAD_TOO_LARGE');
        else expect(result.data!.encryptData.encryptedData.length).toBeLessThanOrEqual(2048);
      }
      expect(results.map((result) => !result.errors)).toEqual([true, true, false]);
    });

    it('says KEY_NOT_FOUND for an unknown key', async () => {
      expect(errorCode(await encrypt(t, { keyId: 'nope', data: 'x' }))).toBe('KEY_NOT_FOUND');
    });
  });

  describe('metrics', () => {
    it('writes an EncryptionMetric row per operation, with duration and reason', async () => {
      const deviceId = newDeviceId('metrics');
      const asked = performance.now();
      const measured = await generateKey(t, deviceId);
      const generationSeen = performance.now() - asked;
      const ciphertext = await encryptWithWebCrypto(measured.publicKey, 'm');
      await decryptRecorded({ keyId: measured.keyId, encryptedData: ciphertext });
      await decryptRecorded({ keyId: measured.keyId, encryptedData: Buffer.alloc(256).toString('base64') });
      await encrypt(t, { keyId: measured.keyId, data: 'm' });
      await t.app.get(MetricsRecorder).flush();

      const rows = await t.prisma.encryptionMetric.findMany({
        where: { keyId: measured.keyId },
        orderBy: { timestamp: 'asc' },
      });
      expect(rows.map(({ operation, status, errorReason, deviceId: device }) => ({ operation, status, errorReason, device }))).toEqual([
        { operation: 'generate', status: 'success', errorReason: null, device: deviceId },
        { operation: 'decrypt', status: 'success', errorReason: null, device: deviceId },
        { operation: 'decrypt', status: 'failure', errorReason: 'DECRYPTION_FAILED', device: deviceId },
        { operation: 'encrypt', status: 'success', errorReason: null, device: deviceId },
      ]);
      // Milliseconds of the work itself: an RSA key takes many, and no more than the caller waited.
      expect(rows[0].duration).toBeGreaterThan(5);
      expect(rows[0].duration).toBeLessThanOrEqual(Math.ceil(generationSeen));
    });
  });
});
