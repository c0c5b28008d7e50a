 
/**
 * Latency of verifyPasscode / verifyTransactionPin through the whole service:
 * real HTTP + GraphQL, RSA decryption, the single-use record and attempt counter
 * in PostgreSQL, and argon2id with the configured ARGON2_* parameters.
 *
 *   npm run bench:auth-verify
 *   ARGON2_MEMORY_KIB=47104 ARGON2_TIME_COST=1 BENCH_REQUESTS=300 npm run bench:auth-verify
 *
 * PostgreSQL: a scratch database on the server in DATABASE_URL, or an embedded
 * server in a temporary directory. Requests are sequential, the cases taken in turn.
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiKeysService } from '../src/access-control';
import { createApp } from '../src/app.factory';
import { CredentialHasher } from '../src/auth/crypto/credential-hasher';
import { Scope } from '../src/access-control';
import { loadConfig } from '../src/config/app-config';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { applyMigrations } from '../src/database/schema-engine';
import { freePort } from '../test/support/free-port';
import { percentile } from './support';
import { databaseUrl, onServer } from '../test/support/test-server';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARM_UP = 10;

async function main() {
  // Not mkdtemp (0700): as root, the embedded server runs as another user that must enter it.
  const workDir = join(tmpdir(), `kms-bench-${randomBytes(4).toString('hex')}`);
  await mkdir(workDir, { mode: 0o711 });
  const database = await scratchDatabase(workDir);
  const config = loadConfig({
    ...pick(process.env, ['ARGON2_MEMORY_KIB', 'ARGON2_TIME_COST', 'ARGON2_PARALLELISM']),
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    LOG_FILE: join(workDir, 'service.log'),
    DATA_DIR: workDir,
    DATABASE_URL: database.url,
    KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    AUTH_PEPPER: randomBytes(32).toString('base64'),
    AUTH_MAX_ATTEMPTS: '100',
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  // One key for the device side (client) and the backend side (service) of the run.
  const { key: apiKey } = await app.get(ApiKeysService).create('bench', [Scope.CLIENT, Scope.SERVICE]);
  const gql = graphqlClient(`http://127.0.0.1:${port}/graphql`, apiKey);
  try {
    const { argon2 } = config.auth;
    console.log(
      `argon2id m=${argon2.memoryKib} KiB, t=${argon2.timeCost}, p=${argon2.parallelism}; ` +
        `${REQUESTS} sequential requests per case after ${WARM_UP} warm-up, over HTTP`,
    );
    const key = (await gql(`mutation { generateEncryptionKey(input: { deviceId: "bench" }) { keyId publicKey } }`))
      .generateEncryptionKey as { keyId: string; publicKey: string };
    const encrypt = rsaEncryptor(key.publicKey);
    const userId = 'bench-user';
    await gql(`mutation S($input: SetPasscodeInput!) { setPasscode(input: $input) }`, {
      input: { userId, keyId: key.keyId, encryptedPasscode: await encrypt('bench-passcode') },
    });
    await gql(`mutation S($input: SetTransactionPinInput!) { setTransactionPin(input: $input) }`, {
      input: { userId, keyId: key.keyId, encryptedPin: await encrypt('7395') },
    });

    const verify = (operation: 'verifyPasscode' | 'verifyTransactionPin', user: (i: number) => string, secret: string) => {
      const [type, field] =
        operation === 'verifyPasscode'
          ? ['VerifyPasscodeInput', 'encryptedPasscode']
          : ['VerifyTransactionPinInput', 'encryptedPin'];
      return async (i: number) => {
        const input = { userId: user(i), keyId: key.keyId, [field]: await encrypt(secret) };
        return async () => {
          const data = await gql(`mutation V($input: ${type}!) { ${operation}(input: $input) { valid } }`, { input });
          return (data[operation] as { valid: boolean }).valid;
        };
      };
    };
    // Wrong PINs go to users who each take fewer than AUTH_MAX_ATTEMPTS of them, so none locks.
    const wrongPinUsers = Math.ceil((REQUESTS + WARM_UP) / 90);
    for (let u = 0; u < wrongPinUsers; u += 1) {
      await gql(`mutation S($input: SetTransactionPinInput!) { setTransactionPin(input: $input) }`, {
        input: { userId: `bench-wrong-${u}`, keyId: key.keyId, encryptedPin: await encrypt('7395') },
      });
    }
    const cases: [string, (i: number) => Promise<() => Promise<boolean>>, boolean][] = [
      ['verifyPasscode (right passcode)', verify('verifyPasscode', () => userId, 'bench-passcode'), true],
      ['verifyTransactionPin (right PIN)', verify('verifyTransactionPin', () => userId, '7395'), true],
      ['verifyTransactionPin (wrong PIN)', verify('verifyTransactionPin', (i) => `bench-wrong-${i % wrongPinUsers}`, '7396'), false],
      ['verifyTransactionPin (unknown user)', verify('verifyTransactionPin', () => 'nobody', '7395'), false],
      ['decryptData (baseline: the same path without auth)', decryptBaseline(gql, key.keyId, encrypt), true],
    ];
    // Round-robin over the cases, so that drift on a shared machine touches them alike.
    const prepared = await Promise.all(
      cases.map(([, prepare]) => Promise.all(Array.from({ length: REQUESTS + WARM_UP }, (_, i) => prepare(i)))),
    );
    const timings: number[][] = cases.map(() => []);
    for (let i = 0; i < REQUESTS + WARM_UP; i += 1) {
      for (const [c, [label, , expected]] of cases.entries()) {
        const started = performance.now();
        if ((await prepared[c][i]()) !== expected) throw new Error(`${label}: unexpected answer`);
        if (i >= WARM_UP) timings[c].push(performance.now() - started);
      }
    }
    for (const [c, [label]] of cases.entries()) report(label, timings[c]);

    const hasher = app.get(CredentialHasher);
    const owner = { userId: 'bench-user', column: 'pinHash' };
    const stored = await hasher.hash('7395', owner);
    const argonOnly: number[] = [];
    for (let i = 0; i < REQUESTS + WARM_UP; i += 1) {
      const started = performance.now();
      await hasher.verify(stored, '7395', owner);
      if (i >= WARM_UP) argonOnly.push(performance.now() - started);
    }
    report('argon2id verify alone (no HTTP, no database)', argonOnly);
  } finally {
    await app.close();
    await database.drop();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** HTTP, GraphQL, key lookup, RSA and the key's use count: what every auth call also pays. */
function decryptBaseline(
  gql: ReturnType<typeof graphqlClient>,
  keyId: string,
  encrypt: (plaintext: string) => Promise<string>,
) {
  return async () => {
    const input = { keyId, encryptedData: await encrypt('7395') };
    return async () => {
      const data = await gql(`mutation D($input: DecryptDataInput!) { decryptData(input: $input) { data } }`, { input });
      return (data.decryptData as { data: string }).data === '7395';
    };
  };
}

function report(label: string, timings: number[]) {
  const sorted = [...timings].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  console.log(
    `${label.padEnd(52)} p50 ${percentile(sorted, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(sorted, 99).toFixed(1).padStart(6)} ms` +
      `   mean ${mean.toFixed(1).padStart(6)} ms   (n=${sorted.length})`,
  );
}

function graphqlClient(url: string, apiKey: string) {
  return async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
    return body.data!;
  };
}

/** A device's WebCrypto RSA-OAEP-SHA256 encryptor for the published key. */
function rsaEncryptor(publicKeyPem: string) {
  const spki = Buffer.from(publicKeyPem.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ''), 'base64');
  const key = webcrypto.subtle.importKey('spki', spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  return async (plaintext: string) =>
    Buffer.from(
      await webcrypto.subtle.encrypt({ name: 'RSA-OAEP' }, await key, new TextEncoder().encode(plaintext)),
    ).toString('base64');
}

/** A migrated database of its own, on DATABASE_URL's server or an embedded one. */
async function scratchDatabase(workDir: string) {
  let serverUrl = process.env.DATABASE_URL;
  let stopServer: () => Promise<void> = async () => undefined;
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: workDir, port: await freePort(), database: 'postgres' });
    serverUrl = embedded.url;
    stopServer = embedded.stop;
  }
  const name = `kms_bench_${randomBytes(4).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(serverUrl, name);
  await applyMigrations(url);
  return {
    url,
    drop: async () => {
      await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      await stopServer();
    },
  };
}

function pick(source: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((name) => source[name]).map((name) => [name, source[name]!]));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
