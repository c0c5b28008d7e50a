/**
 * decryptData throughput against the machine's crypto limit. The service runs as a user
 * runs it (src/main.ts in a child process, every worker, its own embedded PostgreSQL,
 * its log going to a file, no LOG_FORMAT); `wrk` (Debian package `wrk`) loads it from a
 * separate process in closed loops, checking every answer. In one run it prints:
 * - decryptData (raw RSA-OAEP and JWE ciphertexts, 8 keys) and `{ __typename }` at 1,
 *   16 and 64 clients: req/s, p50, p90, p99, errors, service CPU per request, and p50/p99
 *   of the same requests as the service timed them (its request lines' responseTime);
 * - verifyPasscode at 16 clients (each ciphertext used once);
 * - the raw RSA-OAEP-SHA256 decrypt rate and the argon2id verify rate with one worker
 *   thread per CPU (measured before and after the service runs; the mean is used);
 * - decryptData / raw RSA and verifyPasscode / raw argon2;
 * and as its last line the same figures as name=value pairs. Asserts nothing.
 *
 *   npm run bench:encryption [-- --seconds 5] [--workers 1,2] [--variant name:VAR=v,...] [--loads ...] [--profile]
 *
 * --workers 1,2: one service per value of WEB_CONCURRENCY (default: the service's own
 *   default), all started first, each load run on each in turn; their figures get a
 *   `w<n>_` prefix. --variant name:VAR=value,... adds a service with that environment
 *   (KMS_BENCH_ROOT=<dir>: run another checkout, e.g. the commit before a change).
 * --loads typename,decrypt,verify: which loads (default all).
 * --keep: keeps the services' directories (their logs) after the run.
 * --wrk-nice -10 (the default): wrk runs at that priority (raising it needs root; else it
 *   runs at the service's). On 2 CPUs the workers of a saturated service otherwise keep the
 *   load generator waiting for a CPU: its own waits then count as the service's latency
 *   (p99/p50 at 16 clients 6.1 at nice 0 against 3.9 at -10, one machine, minutes apart),
 *   and it keeps fewer requests in flight. --wrk-nice 0 measures the old way.
 * --profile: then CPU-profiles every process of each service during one more run at 16
 *   clients of decryptData (or of --profile-load verify|typename), and prints the top of
 *   the profile (bench/profile-summary.ts).
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
  waitForKeyPool,
  wrkAvailable,
} from './load';
import { printSummary, summariseProfiles } from './profile-summary';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string' },
    variant: { type: 'string', multiple: true },
    loads: { type: 'string', default: 'typename,decrypt,verify' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'wrk-nice': { type: 'string', default: '-10' },
    'profile-load': { type: 'string', default: 'decrypt' },
  },
});
const SECONDS = Number(values.seconds);
const WRK_NICE = Number(values['wrk-nice']);
const CLIENTS = [1, 16, 64];
const VERIFY_CLIENTS = 16;
const PASSCODE = 'bench-passcode-2718';
const VERIFY = `mutation Verify($input: VerifyPasscodeInput!) { verifyPasscode(input: $input) { valid } }`;
const SET_PASSCODE = `mutation Set($input: SetPasscodeInput!) { setPasscode(input: $input) }`;

interface Figures {
  [name: string]: number;
}

/** A service to load: its name (the prefix of its figures) and its environment. */
interface Variant {
  name: string;
  env: Record<string, string>;
}

/**
 * --workers 1,2 gives variants w1 and w2 (WEB_CONCURRENCY); --variant name:VAR=value,VAR=value
 * any other environment (e.g. w2uv2:WEB_CONCURRENCY=2,UV_THREADPOOL_SIZE=2). None: the
 * service's defaults, figures without prefix.
 */
function variantsAsked(): Variant[] {
  const variants: Variant[] = (values.workers ?? '')
    .split(',')
    .filter(Boolean)
    .map((n) => ({ name: `w${n.trim()}`, env: { WEB_CONCURRENCY: n.trim() } }));
  for (const spec of values.variant ?? []) {
    const [name, assignments = ''] = spec.split(/:(.*)/s);
    const env = Object.fromEntries(assignments.split(',').filter(Boolean).map((pair) => pair.split(/=(.*)/s) as [string, string]));
    variants.push({ name, env });
  }
  return variants.length > 0 ? variants : [{ name: '', env: {} }];
}

interface Loaded {
  variant: Variant;
  service: LoadService;
  bodies: Awaited<ReturnType<typeof prepareBodies>>;
  headers: Record<string, string>;
  profileDir: string;
  figures: Figures;
}

async function main() {
  if (!wrkAvailable()) {
    console.error('bench:encryption needs wrk as its load generator: apt-get install -y wrk');
    process.exit(2);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'kms-bench-encryption-'));
  chmodSync(workDir, 0o711); // as root, the embedded PostgreSQL's user must enter it
  const figures: Figures = {};
  const loaded: Loaded[] = [];
  try {
    const rsaBefore = await rawRsaOaepRate();
    const argon2 = await rawArgon2Rate();
    const argon2Rate = argon2.perSecond;
    console.log(`raw RSA-OAEP-SHA256 decrypt, one thread per CPU: ${rsaBefore.perSecond.toFixed(0)} /s, ${rsaBefore.cpuUsPerOp.toFixed(0)} µs CPU each (before)`);
    console.log(`raw argon2id verify (m=19456 KiB, t=2, p=1), one thread per CPU: ${argon2Rate.toFixed(1)} /s, ${argon2.cpuUsPerOp.toFixed(0)} µs CPU each`);

    console.log(`wrk runs at nice ${WRK_NICE}${WRK_NICE < 0 && process.getuid?.() !== 0 ? ' if allowed (not root: at the service\'s priority)' : ''}`);
    // Every variant runs side by side, idle but for the one being loaded; each load runs
    // on each variant in turn, so that drift on a shared machine touches them alike.
    for (const variant of variantsAsked()) loaded.push(await startVariant(variant, argon2Rate, workDir));
    const loads = values.loads!.split(',');
    const run = (entry: Loaded, name: string, clients: number, seconds = SECONDS) => {
      const { bodies, headers } = entry;
      const [list, expect, hdrs] =
        name === 'typename' ? [bodies.typename, '"__typename":"Query"', {}]
          : name === 'decrypt' ? [bodies.decrypt, '"decryptData":{', headers]
            : [bodies.verify, '"valid":true', headers];
      const fresh = list.length;
      return runWrk(entry.service, { bodies: list, headers: hdrs, expect, clients, seconds, workDir, nice: WRK_NICE }).then((result) => {
        if (name === 'verify' && result.requests > fresh) console.log('  (verify ran out of fresh ciphertexts: replays counted as errors)');
        // Each passcode ciphertext is single-use: the next run starts after the last one sent.
        // wrk counts the answers it read; up to one request per client was still in flight
        // when it stopped, and the service went on to consume those too.
        if (name === 'verify') entry.bodies.verify = entry.bodies.verify.slice(result.requests + clients);
        return result;
      });
    };
    for (const entry of loaded) {
      // Warm-up: JIT, connection pools, caches.
      await run(entry, 'typename', 16, 2);
      await run(entry, 'decrypt', 16, 2);
    }
    const plan: [string, number][] = [
      ...(loads.includes('typename') ? CLIENTS.map((c) => ['typename', c] as [string, number]) : []),
      ...(loads.includes('decrypt') ? CLIENTS.map((c) => ['decrypt', c] as [string, number]) : []),
      ...(loads.includes('verify') ? [['verify', VERIFY_CLIENTS] as [string, number]] : []),
    ];
    for (const [step, [name, clients]] of plan.entries()) {
      const order = step % 2 === 0 ? loaded : [...loaded].reverse();
      for (const entry of order) {
        const result = await run(entry, name, clients);
        report(entry, name, clients, result);
      }
    }
    if (values.profile) for (const entry of loaded) await profile(entry, run);

    const rsaAfter = await rawRsaOaepRate();
    const raw = (rsaBefore.perSecond + rsaAfter.perSecond) / 2;
    const rsaCpuUs = (rsaBefore.cpuUsPerOp + rsaAfter.cpuUsPerOp) / 2;
    console.log(`\nraw RSA-OAEP-SHA256 decrypt, one thread per CPU: ${rsaAfter.perSecond.toFixed(0)} /s, ${rsaAfter.cpuUsPerOp.toFixed(0)} µs CPU each (after); mean ${raw.toFixed(0)} /s`);
    figures.wrk_nice = WRK_NICE;
    figures.raw_rsa_oaep_per_s = Math.round(raw);
    figures.raw_rsa_oaep_cpu_us = Math.round(rsaCpuUs);
    figures.raw_argon2_per_s = round(argon2Rate, 1);
    figures.raw_argon2_cpu_us = Math.round(argon2.cpuUsPerOp);
    // Throughput ratios move with whatever else runs on the machine; CPU per request
    // does not much: raw CPU per operation / service CPU per request is the share of
    // the service's work that is the cryptography itself.
    for (const { variant, figures: own } of loaded) {
      const prefix = variant.name ? `${variant.name}_` : '';
      if (own.decrypt_c16_rps !== undefined) {
        own.decrypt_c16_over_raw = round(own.decrypt_c16_rps / raw, 3);
        own.decrypt_c16_rsa_cpu_share = round(rsaCpuUs / own.decrypt_c16_node_cpu_us, 3);
      }
      if (own.verify_c16_rps !== undefined) {
        own.verify_c16_over_argon2 = round(own.verify_c16_rps / argon2Rate, 3);
        own.verify_c16_argon2_cpu_share = round(argon2.cpuUsPerOp / own.verify_c16_node_cpu_us, 3);
      }
      const parts = [
        own.decrypt_c16_rps === undefined ? '' : `decryptData at 16 clients / raw RSA = ${own.decrypt_c16_over_raw} (RSA ${own.decrypt_c16_rsa_cpu_share} of its CPU), p99/p50 = ${round(own.decrypt_c16_p99_ms / own.decrypt_c16_p50_ms, 2)}`,
        own.verify_c16_rps === undefined ? '' : `verifyPasscode / raw argon2 = ${own.verify_c16_over_argon2} (argon2 ${own.verify_c16_argon2_cpu_share} of its CPU)`,
      ].filter(Boolean);
      if (parts.length > 0) console.log(`${variant.name || 'service defaults'}: ${parts.join('; ')}`);
      for (const [name, value] of Object.entries(own)) figures[`${prefix}${name}`] = value;
    }
  } finally {
    for (const { service } of loaded) {
      const code = await service.stop();
      if (code !== 0) console.log(`service exited with ${code}`);
    }
    if (values.keep) console.log(`kept: ${workDir} (each service's log: <variant>/service.log)`);
    else rmSync(workDir, { recursive: true, force: true });
  }
  console.log(Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' '));
}

function report(entry: Loaded, name: string, clients: number, result: LoadResult) {
  console.log(
    `${(entry.variant.name || 'service').padEnd(8)} ${name.padEnd(9)} ${String(clients).padStart(2)} clients: ${result.rps.toFixed(0).padStart(6)} req/s  ` +
      `p50 ${result.p50Ms.toFixed(2).padStart(7)} ms  p90 ${result.p90Ms.toFixed(2).padStart(7)} ms  p99 ${result.p99Ms.toFixed(2).padStart(7)} ms  errors ${result.errors}  ` +
      `service CPU/request: node ${result.nodeCpuUs.toFixed(0)} µs, PostgreSQL ${result.postgresCpuUs.toFixed(0)} µs  ` +
      `in service: p50 ${result.inService.p50Ms} ms, p99 ${result.inService.p99Ms} ms` +
      (result.cpuWaitShare === undefined ? '' : `  workers waiting for a CPU: ${(100 * result.cpuWaitShare).toFixed(0)} %`) +
      (result.firstError ? `  first error: ${result.firstError}` : ''),
  );
  const key = `${name}_c${clients}`;
  entry.figures[`${key}_rps`] = Math.round(result.rps);
  entry.figures[`${key}_p50_ms`] = round(result.p50Ms, 2);
  entry.figures[`${key}_p90_ms`] = round(result.p90Ms, 2);
  entry.figures[`${key}_p99_ms`] = round(result.p99Ms, 2);
  entry.figures[`${key}_errors`] = result.errors;
  entry.figures[`${key}_node_cpu_us`] = Math.round(result.nodeCpuUs);
  entry.figures[`${key}_in_service_p50_ms`] = result.inService.p50Ms;
  entry.figures[`${key}_in_service_p99_ms`] = result.inService.p99Ms;
  if (result.cpuWaitShare !== undefined) entry.figures[`${key}_cpu_wait_pct`] = round(100 * result.cpuWaitShare, 1);
}

async function createApiKey(service: LoadService, name: string, scope: string): Promise<string> {
  const created = await service.gql(
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
    { input: { name, scopes: [scope] } },
    service.adminKey,
  );
  return created.createApiKey.key as string;
}

async function startVariant(variant: Variant, argon2Rate: number, workDir: string): Promise<Loaded> {
  // Kept after the run, for a closer look (node bench/profile-summary.ts <files>).
  const profileDir = join(tmpdir(), `kms-bench-profiles-${Date.now()}-${variant.name || 'default'}`);
  const serviceDir = join(workDir, variant.name || 'default');
  mkdirSync(serviceDir, { mode: 0o711 });
  const service = await startLoadService(
    { ...variant.env, ...(values.profile ? { KMS_BENCH_PROFILE_DIR: profileDir } : {}) },
    { workDir: serviceDir, ...(values.profile ? { nodeArgs: ['-r', join(__dirname, 'cpu-profile-hook.ts')] } : {}) },
  );
  console.log(`${variant.name || 'service'} ${JSON.stringify(variant.env)}: ${service.nodePids().length} node process(es)`);
  const serviceKey = await createApiKey(service, 'bench-service', 'service');
  const bodies = await prepareBodies(service, serviceKey, Math.ceil(argon2Rate * SECONDS * 2) + 300);
  const poolWait = performance.now();
  await waitForKeyPool(service, await createApiKey(service, 'bench-ops', 'ops'), variant.env);
  console.log(`${variant.name || 'service'}: key pool settled after set-up (${((performance.now() - poolWait) / 1000).toFixed(0)} s)`);
  return { variant, service, bodies, headers: { Authorization: `Bearer ${serviceKey}` }, profileDir, figures: {} };
}

/** CPU profiles of every process of the service during one more decryptData run at 16 clients. */
async function profile(entry: Loaded, run: (entry: Loaded, name: string, clients: number) => Promise<LoadResult>) {
  const pids = entry.service.nodePids();
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  const load = values['profile-load']!;
  const profiled = await run(entry, load, 16);
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  console.log(`\n${entry.variant.name || 'service'}: profiled ${load}, 16 clients: ${profiled.rps.toFixed(0)} req/s; profiles: ${entry.profileDir}`);
  await sleep(1500);
  const files = readdirSync(entry.profileDir).map((file) => join(entry.profileDir, file));
  const workers = files.filter((file) => file.includes('/worker-'));
  const primary = files.filter((file) => file.includes('/primary-'));
  if (workers.length > 0) printSummary(`workers (${workers.length})`, summariseProfiles(workers, 15));
  if (primary.length > 0) printSummary('first process', summariseProfiles(primary, workers.length > 0 ? 6 : 15));
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
