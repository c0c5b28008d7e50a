/**
 * decryptData throughput against the machine's crypto limit. The service runs as a user
 * runs it (src/main.ts in a child process, every worker, its own embedded PostgreSQL,
 * its log going to a file, no LOG_FORMAT); `wrk` (Debian package `wrk`) loads it from a
 * separate process in closed loops, checking every answer. In one run it prints:
 * - decryptData (raw RSA-OAEP and JWE ciphertexts, 8 keys) and `{ __typename }` at 1,
 *   16 and 64 clients: req/s, p50, p99, errors, service CPU per request;
 * - verifyPasscode at 16 clients (each ciphertext used once);
 * - the raw RSA-OAEP-SHA256 decrypt rate and the argon2id verify rate with one worker
 *   thread per CPU (measured before and after the service runs; the mean is used);
 * - decryptData / raw RSA and verifyPasscode / raw argon2;
 * and as its last line the same figures as name=value pairs. Asserts nothing.
 *
 *   npm run bench:encryption [-- --seconds 5] [--workers 1,2] [--profile]
 *
 * --workers 1,2: one service per value of WEB_CONCURRENCY, loaded in turn (default: the
 *   service's own default). Names on the last line get a `w<n>_` prefix then.
 * --profile: then CPU-profiles every process of the service during one more decryptData
 *   run at 16 clients, and prints the top of the profile (bench/profile-summary.ts).
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { encryptWithJose, encryptWithWebCrypto } from '../test/support/clients';
import { DECRYPT_DATA, GENERATE_KEY } from '../test/support/operations';
import {
  LoadResult,
  LoadService,
  rawArgon2Rate,
  rawRsaOaepRate,
  runWrk,
  startLoadService,
  wrkAvailable,
} from './load';
import { printSummary, summariseProfiles } from './profile-summary';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = [1, 16, 64];
const VERIFY_CLIENTS = 16;
const PASSCODE = 'bench-passcode-2718';
const VERIFY = `mutation Verify($input: VerifyPasscodeInput!) { verifyPasscode(input: $input) { valid } }`;
const SET_PASSCODE = `mutation Set($input: SetPasscodeInput!) { setPasscode(input: $input) }`;

interface Figures {
  [name: string]: number;
}

async function main() {
  if (!wrkAvailable()) {
    console.error('bench:encryption needs wrk as its load generator: apt-get install -y wrk');
    process.exit(2);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'kms-bench-encryption-'));
  chmodSync(workDir, 0o711); // as root, the embedded PostgreSQL's user must enter it
  const figures: Figures = {};
  try {
    const rsaBefore = await rawRsaOaepRate();
    const argon2Rate = await rawArgon2Rate();
    console.log(`raw RSA-OAEP-SHA256 decrypt, one thread per CPU: ${rsaBefore.toFixed(0)} /s (before)`);
    console.log(`raw argon2id verify (m=19456 KiB, t=2, p=1), one thread per CPU: ${argon2Rate.toFixed(1)} /s`);

    const variants = values.workers ? values.workers.split(',').map((n) => n.trim()) : [undefined];
    const perVariant: [string | undefined, Figures][] = [];
    for (const workers of variants) {
      perVariant.push([workers, await loadOneService(workers, argon2Rate, workDir)]);
    }

    const rsaAfter = await rawRsaOaepRate();
    const raw = (rsaBefore + rsaAfter) / 2;
    console.log(`raw RSA-OAEP-SHA256 decrypt, one thread per CPU: ${rsaAfter.toFixed(0)} /s (after); mean ${raw.toFixed(0)} /s`);
    figures.raw_rsa_oaep_per_s = Math.round(raw);
    figures.raw_argon2_per_s = round(argon2Rate, 1);
    for (const [workers, own] of perVariant) {
      const prefix = workers === undefined ? '' : `w${workers}_`;
      own.decrypt_c16_over_raw = round(own.decrypt_c16_rps / raw, 3);
      own.verify_c16_over_argon2 = round(own.verify_c16_rps / argon2Rate, 3);
      console.log(
        `${workers === undefined ? 'default workers' : `WEB_CONCURRENCY=${workers}`}: decryptData at 16 clients / raw RSA = ${own.decrypt_c16_over_raw}, ` +
          `p99/p50 = ${round(own.decrypt_c16_p99_ms / own.decrypt_c16_p50_ms, 2)}; verifyPasscode / raw argon2 = ${own.verify_c16_over_argon2}`,
      );
      for (const [name, value] of Object.entries(own)) figures[`${prefix}${name}`] = value;
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' '));
}

async function loadOneService(workers: string | undefined, argon2Rate: number, workDir: string): Promise<Figures> {
  const profileDir = join(workDir, `profiles-${workers ?? 'default'}`);
  const service = await startLoadService(
    {
      ...(workers === undefined ? {} : { WEB_CONCURRENCY: workers }),
      ...(values.profile ? { KMS_BENCH_PROFILE_DIR: profileDir } : {}),
    },
    values.profile ? { nodeArgs: ['-r', './bench/cpu-profile-hook.ts'] } : {},
  );
  const figures: Figures = {};
  try {
    const label = workers === undefined ? 'service default workers' : `WEB_CONCURRENCY=${workers}`;
    console.log(`\n${label}: ${service.nodePids().length} node process(es)`);
    const serviceKey = (
      await service.gql(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
        { input: { name: 'bench-service', scopes: ['service'] } },
        service.adminKey,
      )
    ).createApiKey.key as string;
    const headers: Record<string, string> = { Authorization: `Bearer ${serviceKey}` };
    const bodies = await prepareBodies(service, serviceKey, Math.ceil(argon2Rate * SECONDS * 2) + 300);
    const load = (bodyList: string[], expect: string, clients: number, seconds = SECONDS, hdrs = headers) =>
      runWrk(service, { bodies: bodyList, headers: hdrs, expect, clients, seconds, workDir });

    // Warm-up: JIT, connection pools, caches.
    await load(bodies.typename, '"__typename":"Query"', 16, 2, {});
    await load(bodies.decrypt, '"decryptData":{', 16, 2);

    const report = (name: string, clients: number, result: LoadResult) => {
      console.log(
        `${name.padEnd(14)} ${String(clients).padStart(2)} clients: ${result.rps.toFixed(0).padStart(6)} req/s  ` +
          `p50 ${result.p50Ms.toFixed(2).padStart(7)} ms  p99 ${result.p99Ms.toFixed(2).padStart(7)} ms  errors ${result.errors}  ` +
          `service CPU/request: node ${result.nodeCpuUs.toFixed(0)} µs, PostgreSQL ${result.postgresCpuUs.toFixed(0)} µs` +
          (result.firstError ? `  first error: ${result.firstError}` : ''),
      );
      const key = `${name}_c${clients}`;
      figures[`${key}_rps`] = Math.round(result.rps);
      figures[`${key}_p50_ms`] = round(result.p50Ms, 2);
      figures[`${key}_p99_ms`] = round(result.p99Ms, 2);
      figures[`${key}_errors`] = result.errors;
    };
    for (const clients of CLIENTS) report('typename', clients, await load(bodies.typename, '"__typename":"Query"', clients, SECONDS, {}));
    for (const clients of CLIENTS) report('decrypt', clients, await load(bodies.decrypt, '"decryptData":{', clients));
    const verified = await load(bodies.verify, '"valid":true', VERIFY_CLIENTS);
    report('verify', VERIFY_CLIENTS, verified);
    if (verified.requests > bodies.verify.length) console.log('  (verify ran out of fresh ciphertexts: replays counted as errors)');

    if (values.profile) {
      const pids = service.nodePids();
      for (const pid of pids) process.kill(pid, 'SIGUSR2');
      const profiled = await load(bodies.decrypt, '"decryptData":{', 16);
      for (const pid of pids) process.kill(pid, 'SIGUSR2');
      console.log(`profiled decryptData, 16 clients: ${profiled.rps.toFixed(0)} req/s`);
      await sleep(1500);
      const files = readdirSync(profileDir).map((file) => join(profileDir, file));
      const workersFiles = files.filter((file) => file.includes('/worker-'));
      const primaryFiles = files.filter((file) => file.includes('/primary-'));
      if (workersFiles.length > 0) printSummary(`workers (${workersFiles.length}), decryptData at 16 clients`, summariseProfiles(workersFiles, 20));
      if (primaryFiles.length > 0) printSummary('primary process', summariseProfiles(primaryFiles, 10));
    }
  } finally {
    const code = await service.stop();
    if (code !== 0) console.log(`service exited with ${code}`);
  }
  return figures;
}

/** Request bodies: `{ __typename }`; 16 decryptData inputs over 8 keys; `verifyCount` single-use verifyPasscode inputs over 16 users. */
async function prepareBodies(service: LoadService, serviceKey: string, verifyCount: number) {
  const keys = await Promise.all(
    Array.from({ length: 8 }, async (_, i) =>
      (await service.gql(GENERATE_KEY, { input: { deviceId: `bench-dec-${i}` } })).generateEncryptionKey),
  );
  const inputs = await Promise.all(
    keys.flatMap((key: any) => [
      encryptWithWebCrypto(key.publicKey, 'bench secret 123456').then((encryptedData) => ({ keyId: key.keyId, encryptedData })),
      encryptWithJose(key.publicKeyJwk, 'bench secret 123456').then((encryptedData) => ({ encryptedData })),
    ]),
  );
  // Every body works before wrk sends it thousands of times.
  for (const input of inputs) await service.gql(DECRYPT_DATA, { input }, serviceKey);

  const users = Array.from({ length: 16 }, (_, i) => `bench-user-${i}`);
  const [authKey] = keys;
  for (const userId of users) {
    await service.gql(SET_PASSCODE, { input: { userId, keyId: authKey.keyId, encryptedPasscode: await encryptWithWebCrypto(authKey.publicKey, PASSCODE) } }, serviceKey);
  }
  const verify = await Promise.all(
    Array.from({ length: verifyCount }, async (_, i) =>
      JSON.stringify({
        query: VERIFY,
        variables: { input: { userId: users[i % users.length], keyId: authKey.keyId, encryptedPasscode: await encryptWithWebCrypto(authKey.publicKey, PASSCODE) } },
      })),
  );
  return {
    typename: [JSON.stringify({ query: '{ __typename }' })],
    decrypt: inputs.map((input) => JSON.stringify({ query: DECRYPT_DATA, variables: { input } })),
    verify,
  };
}

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
