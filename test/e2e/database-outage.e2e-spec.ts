import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { EmbeddedDatabase, startEmbeddedPostgres } from '../../src/database';
import { encryptWithWebCrypto } from '../support/clients';
import { freePort } from '../support/free-port';
import { ENCRYPTION_KEY, errorCode, GENERATE_KEY, decrypt, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The service on a PostgreSQL of this test's own (an embedded server it stops and
 * starts), whatever TEST_DATABASE_URL says: an outage answers SERVICE_UNAVAILABLE
 * with retryAfterSeconds, a real fault stays INTERNAL, and the service recovers by
 * itself once the server is back.
 */
describe('a database that stops and starts again', () => {
  let dataDir: string;
  let port: number;
  let server: EmbeddedDatabase;
  let t: TestApp;

  beforeAll(async () => {
    // Not mkdtemp (0700): as root the server runs as the postgres user, who must enter it.
    dataDir = join(tmpdir(), `kms-outage-${randomBytes(4).toString('hex')}`);
    await mkdir(dataDir, { mode: 0o711 });
    port = await freePort();
    server = await startEmbeddedPostgres({ dataDir, port });
    // The schema engine is ESM + wasm, which jest cannot load: the migrate command does it.
    await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/migrate.ts'], {
      cwd: join(__dirname, '../..'),
      env: { PATH: process.env.PATH, DATABASE_URL: server.url },
    });
    t = await startTestApp({
      database: { name: 'kms', url: server.url, drop: async () => undefined },
      env: { DATABASE_CONNECT_TIMEOUT_MS: '1000' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const timed = async <T>(work: () => Promise<T>) => {
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started };
  };

  it('answers SERVICE_UNAVAILABLE with retryAfterSeconds while it is down, and recovers by itself', async () => {
    const key = await generateKey(t, newDeviceId('outage'));
    const encryptedData = await encryptWithWebCrypto(key.publicKey, 'outage test');
    await server.stop();

    const attempts = {
      generate: () => t.gql(GENERATE_KEY, { input: { deviceId: newDeviceId('outage') } }),
      read: () => t.gql(ENCRYPTION_KEY, { keyId: key.keyId }),
      // With an API key: the key lookup itself meets the outage.
      decrypt: () => decrypt(t, { keyId: key.keyId, encryptedData }),
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      const { result, ms } = await timed(attempt);
      expect([name, errorCode(result)]).toEqual([name, 'SERVICE_UNAVAILABLE']);
      expect(result.errors![0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
      expect(result.errors![0].message).not.toMatch(/127\.0\.0\.1|postgres|ECONN|\d{4,5}/);
      expect(ms).toBeLessThan(10_000);
    }
    const scrape = await fetch(`${t.baseUrl}/metrics`, { headers: t.as('ops') });
    expect(scrape.status).toBe(503);
    expect(scrape.headers.get('retry-after')).toBe('1');
    expect(await scrape.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect((await fetch(`${t.baseUrl}/health/ready`)).status).toBe(503);
    const outageLines = t.logs.all().filter((line) => line.msg === 'request completed' && line.outcome === 'SERVICE_UNAVAILABLE');
    expect(outageLines.length).toBeGreaterThanOrEqual(3);
    expect(outageLines.map((line) => line.reasons)).toEqual(expect.arrayContaining([expect.stringMatching(/^database-/)]));
    expect(t.logs.all().filter((line) => line.msg === 'internal error')).toEqual([]);

    // Back on the same port and data: no restart of the service, no operator.
    server = await startEmbeddedPostgres({ dataDir, port });
    const back = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - back < 20_000) {
      recovered = (await decrypt(t, { keyId: key.keyId, encryptedData })).errors === undefined;
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(true);
    expect((await fetch(`${t.baseUrl}/health/ready`)).status).toBe(200);
  });

  it('answers SERVICE_UNAVAILABLE when the server ends a session under a request (57P01, as in a restart)', async () => {
    const deviceId = newDeviceId('terminated');
    const admin = new Client({ connectionString: server.url });
    await admin.connect();
    try {
      // Hold the device's rate-limit lock, so that the request waits inside PostgreSQL ...
      await admin.query('BEGIN');
      await admin.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`kms:keygen:${deviceId}`]);
      const pending = t.gql(GENERATE_KEY, { input: { deviceId } });
      let waiting: number[] = [];
      for (let tries = 0; waiting.length === 0 && tries < 100; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        waiting = rows.map((row) => row.pid);
      }
      expect(waiting).toHaveLength(1);
      // ... then end its session as a shutting-down server does: "terminating connection due to administrator command".
      await admin.query('SELECT pg_terminate_backend($1)', [waiting[0]]);
      const response = await pending;
      expect(response.errors![0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
      await admin.query('ROLLBACK');
    } finally {
      await admin.end();
    }
    const line = t.logs.all().filter((entry) => entry.msg === 'request completed' && entry.operation === 'Generate').at(-1);
    expect(line).toMatchObject({ outcome: 'SERVICE_UNAVAILABLE', reasons: 'database-connection-lost' });
    // The pool replaces the lost connection: the retry succeeds.
    expect((await t.gql(GENERATE_KEY, { input: { deviceId } })).errors).toBeUndefined();
  });

  it('keeps INTERNAL for a real fault while the database is up', async () => {
    const key = await generateKey(t, newDeviceId('fault'));
    const stored = await t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: key.keyId } });
    await t.prisma.clientEncryptionKey.create({
      data: { ...stored, id: `${key.keyId}-orphan`, privateKey: 'kms1.retired.AAAA.BBBB.CCCC' },
    });
    const response = await decrypt(t, { keyId: `${key.keyId}-orphan`, encryptedData: await encryptWithWebCrypto(key.publicKey, 'x') });
    expect(errorCode(response)).toBe('INTERNAL');
  });
});
