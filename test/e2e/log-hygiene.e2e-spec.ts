import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptWithJose, encryptWithWebCrypto } from '../support/clients';
import { decrypt, encrypt, GENERATE_KEY, generateKey, newDeviceId } from '../support/operations';
import { scanLogs } from '../support/secrets-ledger';
import { startTestApp, testEnvironment } from '../support/test-app';

/**
 * One app with a log file of its own, driven through good and bad paths with
 * recognisable secrets; then every line of its log is read back.
 */
describe('logs', () => {
  const secrets = {
    plaintext: 'log-hygiene plaintext Zq7wXk',
    joseSecret: 'log-hygiene jose secret Rm4pTt',
    inVariables: 'log-hygiene variable secret Jh2sVb',
    inBadJson: 'log-hygiene bad json secret Pw9cLd',
  };
  let lines: Record<string, any>[];
  let raw: string;
  let internalCorrelationId: string;
  let orphanCorrelationId: string;
  let requestIdFromHeader: string | null;
  let logFile: string;

  beforeAll(async () => {
    logFile = join(testEnvironment().LOG_FILE, `../hygiene-${process.pid}.log`);
    const t = await startTestApp({ env: { LOG_FILE: logFile, LOG_LEVEL: 'trace' } });
    try {
      const key = await generateKey(t, newDeviceId('hygiene'));
      await decrypt(t, { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(key.publicKey, secrets.plaintext) });
      await decrypt(t, { encryptedData: await encryptWithJose(key.publicKeyJwk, secrets.joseSecret) });
      await decrypt(t, { keyId: key.keyId, encryptedData: Buffer.alloc(256, 3).toString('base64') });
      await encrypt(t, { keyId: key.keyId, data: secrets.plaintext });
      await t.gql(GENERATE_KEY, { input: { deviceId: `${secrets.inVariables}${'x'.repeat(130)}` } });
      await t.gql(GENERATE_KEY, { input: { deviceId: 'x' } }, { authorization: 'Bearer kms_wrong-key-for-the-log-test' });
      await fetch(`${t.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"query": "${secrets.inBadJson}`,
      });
      const stored = await t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: key.keyId } });
      await t.prisma.clientEncryptionKey.create({ data: { ...stored, id: `${key.keyId}-copy` } });
      const internal = await decrypt(t, {
        keyId: `${key.keyId}-copy`,
        encryptedData: await encryptWithWebCrypto(key.publicKey, secrets.plaintext),
      });
      internalCorrelationId = internal.errors![0].extensions.correlationId;
      // A wrapped key under a master key the ring no longer has: our own code throws, its message names the row.
      await t.prisma.clientEncryptionKey.create({
        data: { ...stored, id: `${key.keyId}-orphan`, privateKey: 'kms1.retired-master-key.AAAA.BBBB.CCCC' },
      });
      const orphan = await decrypt(t, {
        keyId: `${key.keyId}-orphan`,
        encryptedData: await encryptWithWebCrypto(key.publicKey, secrets.plaintext),
      });
      orphanCorrelationId = orphan.errors![0].extensions.correlationId;
      const traced = await fetch(`${t.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-123' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      requestIdFromHeader = traced.headers.get('x-request-id');
    } finally {
      await t.close();
    }
    raw = readFileSync(logFile, 'utf8');
    lines = raw.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
  });

  it('are JSON lines with a request id, the operation, the caller key name and the outcome', () => {
    const requests = lines.filter((line) => line.msg === 'request completed');
    expect(requests.length).toBeGreaterThanOrEqual(9);
    for (const line of requests) expect(line.req.id).toEqual(expect.any(String));
    expect(requests).toContainEqual(expect.objectContaining({ operation: 'Decrypt', callerKey: 'test-service', outcome: 'ok' }));
    expect(requests).toContainEqual(expect.objectContaining({ operation: 'Decrypt', callerKey: 'test-service', outcome: 'DECRYPTION_FAILED' }));
    expect(requests).toContainEqual(expect.objectContaining({ operation: 'Generate', callerKey: 'anonymous', outcome: 'BAD_USER_INPUT' }));
    expect(requests).toContainEqual(expect.objectContaining({ operation: 'Generate', outcome: 'UNAUTHENTICATED' }));
  });

  it('tell apart, by internal reason, failures that share a code on the wire', () => {
    const requests = lines.filter((line) => line.msg === 'request completed');
    expect(requests).toContainEqual(expect.objectContaining({ outcome: 'UNAUTHENTICATED', reasons: 'api-key-unknown' }));
    expect(requests).toContainEqual(expect.objectContaining({ outcome: 'DECRYPTION_FAILED', reasons: 'decryption-rejected' }));
    expect(requests).toContainEqual(expect.objectContaining({ outcome: 'BAD_USER_INPUT', reasons: 'input-invalid' }));
    expect(requests.filter((line) => line.outcome === 'ok').every((line) => line.reasons === undefined)).toBe(true);
  });

  it('reuse a well-formed x-request-id and return it', () => {
    expect(requestIdFromHeader).toBe('trace-me-123');
    expect(lines).toContainEqual(expect.objectContaining({ req: expect.objectContaining({ id: 'trace-me-123' }) }));
  });

  it('record an internal error under the correlation id the caller was given, in one line without a stack trace', () => {
    const internal = lines.filter((line) => line.msg === 'internal error');
    expect(internal).toEqual([
      expect.objectContaining({ correlationId: internalCorrelationId, errorName: expect.any(String) }),
      expect.objectContaining({ correlationId: orphanCorrelationId, errorName: 'Error' }),
    ]);
    // Where in our code it failed, as file:line:column, and nothing else of the stack or the message.
    const [, orphan] = internal;
    expect(orphan.at[0]).toMatch(/^src\/keys\/crypto\/master-key-ring\.ts:\d+:\d+$/);
    for (const location of orphan.at) expect(location).toMatch(/^src\/[\w/.-]+\.ts:\d+:\d+$/);
    expect(raw).not.toMatch(/retired-master-key|-orphan|not under any master key/);
    expect(raw).not.toMatch(/\\n\s+at |"stack"|"frames"|node_modules/);
  });

  it('hold no secret, plaintext, private key, API key or authorization header', () => {
    for (const secret of Object.values(secrets)) expect(raw).not.toContain(secret);
    expect(raw).not.toMatch(/PRIVATE KEY|kms1\.|kms_[A-Za-z0-9_-]{43}|Bearer|authorization/i);
    expect(raw).not.toContain('kms_wrong-key-for-the-log-test');
    expect(scanLogs(join(logFile, '..')).leaks.filter((leak) => leak.file === logFile.split('/').pop())).toEqual([]);
  });
});
