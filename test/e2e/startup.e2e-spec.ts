import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/free-port';
import { ENCRYPTION_KEY, GENERATE_KEY } from '../support/operations';
import { graphqlOnPort as gql, startServiceProcess, stopServiceProcess } from '../support/service-process';
import { createTestDatabase } from '../support/test-database';
import { onServer, testServer } from '../support/test-server';

const isListening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('the service process (src/main.ts)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kms-start-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('starts on an embedded PostgreSQL, stops cleanly on SIGTERM, and reuses the data next time', async () => {
    const pgPort = await freePort();
    const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), PORT: '0' };

    const first = startServiceProcess(env);
    const port = await first.serving;
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    const generated = await gql(port, GENERATE_KEY, { input: { deviceId: 'startup-device' } });
    const keyId = generated.data.generateEncryptionKey.keyId;
    expect(first.stdout()).toContain('no DATABASE_URL: starting embedded PostgreSQL');
    expect(first.stdout()).toContain(
      `development mode (NODE_ENV=development): the master key ring and the pepper not set are generated once and kept in ${dataDir}`,
    );
    expect(first.stdout()).toMatch(/"applied":\["\d+_init"/);
    expect(await stopServiceProcess(first)).toBe(0);
    expect(await isListening(pgPort)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(statSync(join(dataDir, 'master-key.dev')).mode & 0o777).toBe(0o600);

    const second = startServiceProcess(env);
    const secondPort = await second.serving;
    expect(second.stdout()).toContain('"applied":[]');
    const found = await gql(secondPort, ENCRYPTION_KEY, { keyId });
    expect(found.data.encryptionKey).toMatchObject({ keyId, deviceId: 'startup-device', status: 'ACTIVE' });
    expect(await stopServiceProcess(second)).toBe(0);
  });

  it('applies the migrations to an empty DATABASE_URL database at start-up', async () => {
    const database = await createTestDatabase();
    try {
      await database.drop();
      await onServer(testServer().serverUrl, (client) => client.query(`CREATE DATABASE "${database.name}"`));
      const service = startServiceProcess({ DATABASE_URL: database.url, PORT: '0', DATA_DIR: dataDir });
      const port = await service.serving;
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      expect(service.stdout()).toMatch(/"applied":\["\d+_init","\d+_key_generation_ledger"/);
      expect(await stopServiceProcess(service)).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('exits 1 naming every bad configuration variable, once', async () => {
    const service = startServiceProcess({ PORT: 'abc', KEY_EXPIRY_DAYS: '0', KEY_ROTATION_CRON: 'soon' });
    expect(await service.exited).toBe(1);
    const message = service.stderr();
    expect(message).toMatch(/^kms: Invalid configuration \(3 problems\):/);
    for (const name of ['PORT', 'KEY_EXPIRY_DAYS', 'KEY_ROTATION_CRON']) {
      expect(message.split(name).length - 1).toBe(1);
    }
    expect(message).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 1 with one line when DATABASE_URL points nowhere, without the password', async () => {
    const service = startServiceProcess({
      DATABASE_URL: 'postgresql://kms:s3cretpw@127.0.0.1:1/kms',
      PORT: '0',
      DATA_DIR: dataDir,
    });
    expect(await service.exited).toBe(1);
    expect(service.stderr()).toMatch(/^kms: start-up failed: cannot connect to the database at 127\.0\.0\.1:1\/kms: ECONNREFUSED/);
    expect(service.stderr().trim().split('\n')).toHaveLength(1);
    expect(service.stderr() + service.stdout()).not.toContain('s3cretpw');
  });

  it('refuses to start in production without a master key ring', async () => {
    const service = startServiceProcess({ NODE_ENV: 'production', AUTH_PEPPER: 'p'.repeat(32) });
    expect(await service.exited).toBe(1);
    expect(service.stderr()).toContain('KMS_MASTER_KEYS: required when NODE_ENV=production');
  });
});
