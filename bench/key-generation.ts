/**
 * generateEncryptionKey with the key pool warm and empty, and what the pool's refill costs
 * the requests around it. The service runs as a user runs it (src/main.ts in a child
 * process, its default workers, its own embedded PostgreSQL, its log to a file); clients are
 * this process (fetch, one connection each). In one run it prints:
 * - the raw crypto.generateKeyPair RSA-2048 p50 in this process (before and after the services);
 * - how long the refill took to fill the pool from empty (KEY_POOL_SIZE pairs);
 * - encryptionKey p50 / p99 sequential (one database read): the scale of a request on this machine now;
 * - generateEncryptionKey p50 / p99, sequential and 16 concurrent, with the pool warm (every key
 *   claimed, misses counted) and with no pool (KEY_POOL_SIZE=0: every key made on request, as
 *   on a miss), and the warm p50 as a share of one raw key generation;
 * - decryptData p50 / p99 at a steady 40 requests/s and at 16 concurrent clients, with the pool
 *   full (no refill) and right after it was emptied (refill running), alternating twice, and how
 *   many pairs the refill made meanwhile;
 * and as its last line the same figures as name=value pairs. Asserts nothing.
 *
 *   npm run bench:key-generation [-- --requests 40] [--seconds 8] [--pool 120] [--profile]
 *
 * --profile: then CPU-profiles every process of the pooled service during one more warm run at
 * 16 concurrent, and prints the top of the profile (bench/profile-summary.ts).
 */
import { generateKeyPair } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { encryptWithWebCrypto } from '../test/support/clients';
import { DECRYPT_DATA, ENCRYPTION_KEY, GENERATE_KEY } from '../test/support/operations';
import { LoadService, startLoadService } from './load';
import { printSummary, summariseProfiles } from './profile-summary';
import { percentile } from './support';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '8' },
    pool: { type: 'string', default: '120' },
    profile: { type: 'boolean', default: false },
  },
});
const SEQUENTIAL = Number(values.requests);
const CONCURRENCY = 16;
const SECONDS = Number(values.seconds);
const POOL = Number(values.pool);
/** Requests per concurrent client: together fewer than the pool holds (6 for 120: 96 requests). */
const PER_CLIENT = Math.max(1, Math.floor((POOL * 0.8) / CONCURRENCY));
const STEADY_RATE = 40;
const RAW_SAMPLES = 10;

const generateKeyPairAsync = promisify(generateKeyPair);
const figures: Record<string, number> = {};
const round = (value: number, decimals = 2) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/** RSA-2048 as the service makes it on a miss (libuv's pool), one after another. */
async function rawKeyGeneration(samples: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    await generateKeyPairAsync('rsa', {
      modulusLength: 2048,
      publicExponent: 0x10001,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    });
    times.push(performance.now() - started);
  }
  return times;
}

interface Client {
  service: LoadService;
  opsKey: string;
  serviceKey: string;
}

const PROFILE_DIR = join(tmpdir(), `kms-bench-keygen-profiles-${Date.now()}`);

async function startService(env: Record<string, string>, dir: string, profiled = false): Promise<Client> {
  mkdirSync(dir, { mode: 0o711 });
  // One client makes every key here: the per-caller budget (bench:key-generation-budget) is lifted.
  const unbudgeted = { MAX_KEY_GEN_PER_CALLER_PER_MINUTE: '100000' };
  const service = await startLoadService(
    { ...unbudgeted, ...env, ...(profiled ? { KMS_BENCH_PROFILE_DIR: PROFILE_DIR } : {}) },
    { workDir: dir, ...(profiled ? { nodeArgs: ['-r', join(__dirname, 'cpu-profile-hook.ts')] } : {}) },
  );
  const createKey = async (scope: string) =>
    (
      await service.gql(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
        { input: { name: `bench-${scope}`, scopes: [scope] } },
        service.adminKey,
      )
    ).createApiKey.key as string;
  return { service, opsKey: await createKey('ops'), serviceKey: await createKey('service') };
}

/** One request; its latency in ms, or an error. */
async function timed(url: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  const elapsed = performance.now() - started;
  if (response.status !== 200 || text.includes('"errors"')) throw new Error(`request failed: ${response.status} ${text.slice(0, 200)}`);
  return elapsed;
}

let deviceCounter = 0;
const generateBody = () =>
  JSON.stringify({ query: GENERATE_KEY, variables: { input: { deviceId: `bench-keygen-${(deviceCounter += 1)}` } } });

/** `clients` closed loops of `each` generateEncryptionKey calls; latencies in ms. */
async function generateLoad(client: Client, clients: number, each: number): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < each; i += 1) latencies.push(await timed(client.service.url, generateBody()));
    }),
  );
  return latencies.sort((a, b) => a - b);
}

async function scrape(client: Client): Promise<string> {
  const response = await fetch(client.service.url.replace(/\/graphql$/, '/metrics'), {
    headers: { authorization: `Bearer ${client.opsKey}` },
  });
  return response.text();
}
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
const poolCounters = async (client: Client) => {
  const text = await scrape(client);
  return {
    claims: sample(text, 'kms_key_pool_claims_total'),
    misses: sample(text, 'kms_key_pool_misses_total'),
    refills: sample(text, 'kms_key_pool_refill_seconds_count'),
  };
};

/** The generate operation's time inside the service (kms_operation_duration_seconds), seconds. */
const serverGenerateTime = async (client: Client) => {
  const text = await scrape(client);
  const labels = '\\{operation="generate",outcome="success"\\}';
  return { sum: sample(text, `kms_operation_duration_seconds_sum${labels}`), count: sample(text, `kms_operation_duration_seconds_count${labels}`) };
};

/**
 * Until the pool holds `size` pairs. Counted as pairs added minus pairs claimed (exact on a
 * fresh service that discarded none): kms_key_pool_pairs is cached for 5 s.
 */
async function poolFull(client: Client, size: number): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  const held = async () => {
    const { refills, claims } = await poolCounters(client);
    return refills - claims;
  };
  while ((await held()) < size) {
    if (Date.now() > deadline) throw new Error('the pool did not fill in 15 minutes');
    await sleep(500);
  }
}

/** decryptData at a steady rate (open loop: each request at its time, whatever the others do). */
async function steadyDecrypt(client: Client, body: string, rate: number, seconds: number): Promise<number[]> {
  const headers = { authorization: `Bearer ${client.serviceKey}` };
  const started = performance.now();
  const running: Promise<number>[] = [];
  for (let i = 0; i < rate * seconds; i += 1) {
    const at = started + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    running.push(timed(client.service.url, body, headers));
  }
  return (await Promise.all(running)).sort((a, b) => a - b);
}

/** decryptData from `clients` closed loops for `seconds`. */
async function concurrentDecrypt(client: Client, body: string, clients: number, seconds: number): Promise<number[]> {
  const headers = { authorization: `Bearer ${client.serviceKey}` };
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) latencies.push(await timed(client.service.url, body, headers));
    }),
  );
  return latencies.sort((a, b) => a - b);
}

/** CPU profiles of every process of the service during one more warm run at 16 concurrent. */
async function profileWarm(client: Client) {
  await poolFull(client, POOL);
  const pids = client.service.nodePids();
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  const latencies = await generateLoad(client, CONCURRENCY, PER_CLIENT);
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  console.log(`\nprofiled: generateEncryptionKey, pool warm, ${CONCURRENCY} concurrent: p50 ${percentile(latencies, 50).toFixed(1)} ms; profiles: ${PROFILE_DIR}`);
  await sleep(1500);
  const files = readdirSync(PROFILE_DIR).map((file) => join(PROFILE_DIR, file));
  const workers = files.filter((file) => file.includes('/worker-'));
  const primary = files.filter((file) => file.includes('/primary-'));
  if (workers.length > 0) printSummary(`workers (${workers.length})`, summariseProfiles(workers, 15));
  if (primary.length > 0) printSummary('first process', summariseProfiles(primary, workers.length > 0 ? 6 : 15));
  console.log('');
}

function report(label: string, name: string, sorted: number[]) {
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  console.log(`${label.padEnd(58)} n=${String(sorted.length).padStart(4)}  p50 ${p50.toFixed(1).padStart(7)} ms  p99 ${p99.toFixed(1).padStart(7)} ms`);
  figures[`${name}_p50_ms`] = round(p50);
  figures[`${name}_p99_ms`] = round(p99);
}

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'kms-bench-keygen-'));
  chmodSync(workDir, 0o711); // as root, the embedded PostgreSQL's user must enter it
  const raw = await rawKeyGeneration(RAW_SAMPLES);
  console.log(`raw crypto.generateKeyPair RSA-2048 (this process, sequential): p50 ${percentile([...raw].sort((a, b) => a - b), 50).toFixed(1)} ms (before)`);
  let pooled: Client | undefined;
  let unpooled: Client | undefined;
  try {
    // The pool from empty, as on a fresh install.
    const startedAt = performance.now();
    pooled = await startService({ KEY_POOL_SIZE: String(POOL), KEY_POOL_REFILL_BELOW: String(POOL) }, join(workDir, 'pooled'), values.profile);
    await poolFull(pooled, POOL);
    const fillSeconds = (performance.now() - startedAt) / 1000;
    console.log(`pool filled from empty: ${POOL} pairs ${fillSeconds.toFixed(1)} s after start (${(POOL / fillSeconds).toFixed(1)} pairs/s, start-up included)`);
    figures.pool_fill_s = round(fillSeconds, 1);
    figures.pool_pairs_per_s = round(POOL / fillSeconds, 2);

    // For scale: a request with one database read (encryptionKey, not cached), sequential.
    const known = (await pooled.service.gql(GENERATE_KEY, { input: { deviceId: 'bench-scale' } })).generateEncryptionKey.keyId as string;
    const lookup = JSON.stringify({ query: ENCRYPTION_KEY, variables: { keyId: known } });
    const lookups: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i += 1) lookups.push(await timed(pooled.service.url, lookup));
    report('encryptionKey (one database read, for scale), sequential', 'lookup_seq', lookups.sort((a, b) => a - b));
    await poolFull(pooled, POOL);

    // Warm pool: every key claimed.
    const before = await poolCounters(pooled);
    const served = await serverGenerateTime(pooled);
    report('generateEncryptionKey, pool warm, sequential', 'warm_seq', await generateLoad(pooled, 1, SEQUENTIAL));
    const servedAfter = await serverGenerateTime(pooled);
    const serverMean = (servedAfter.sum - served.sum) / (servedAfter.count - served.count);
    console.log(`  inside the service (the generate operation, mean): ${(serverMean * 1000).toFixed(1)} ms`);
    figures.warm_seq_service_mean_ms = round(serverMean * 1000);
    await poolFull(pooled, POOL);
    report(`generateEncryptionKey, pool warm, ${CONCURRENCY} concurrent`, 'warm_c16', await generateLoad(pooled, CONCURRENCY, PER_CLIENT));
    const after = await poolCounters(pooled);
    console.log(`  claims ${after.claims - before.claims}, misses ${after.misses - before.misses}`);
    figures.warm_claims = after.claims - before.claims;
    figures.warm_misses = after.misses - before.misses;

    if (values.profile) await profileWarm(pooled);

    // decryptData with the pool full (no refill), then right after emptying it (refill running).
    const key = JSON.parse(JSON.stringify((await pooled.service.gql(GENERATE_KEY, { input: { deviceId: 'bench-decrypt' } })).generateEncryptionKey));
    const decryptBody = JSON.stringify({
      query: DECRYPT_DATA,
      variables: { input: { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(key.publicKey, 'bench secret 123456') } },
    });
    await concurrentDecrypt(pooled, decryptBody, CONCURRENCY, 2); // warm-up
    // Alternating, twice: pool full (no refill), then pool just emptied (refill running). A
    // state's figures are over both of its runs, so that drift on a shared machine touches both.
    const runs: Record<string, { steady: number[]; c16: number[]; steadyPairs: number; c16Pairs: number }> = {
      pool_full: { steady: [], c16: [], steadyPairs: 0, c16Pairs: 0 },
      refilling: { steady: [], c16: [], steadyPairs: 0, c16Pairs: 0 },
    };
    const decryptRuns = async (state: 'pool_full' | 'refilling') => {
      const into = runs[state];
      const start = await poolCounters(pooled!);
      into.steady.push(...(await steadyDecrypt(pooled!, decryptBody, STEADY_RATE, SECONDS)));
      const middle = await poolCounters(pooled!);
      into.c16.push(...(await concurrentDecrypt(pooled!, decryptBody, CONCURRENCY, SECONDS)));
      const end = await poolCounters(pooled!);
      into.steadyPairs += middle.refills - start.refills;
      into.c16Pairs += end.refills - middle.refills;
    };
    for (let round = 0; round < 2; round += 1) {
      await poolFull(pooled, POOL);
      await decryptRuns('pool_full');
      await generateLoad(pooled, CONCURRENCY, Math.ceil(POOL / CONCURRENCY) + 1); // empties the pool
      await decryptRuns('refilling');
    }
    for (const [state, { steady, c16, steadyPairs, c16Pairs }] of Object.entries(runs)) {
      report(`decryptData ${STEADY_RATE}/s steady, ${state} (2 runs)`, `decrypt_steady_${state}`, steady.sort((x, y) => x - y));
      report(`decryptData ${CONCURRENCY} concurrent, ${state} (2 runs)`, `decrypt_c16_${state}`, c16.sort((x, y) => x - y));
      console.log(`  pairs the refill made meanwhile: ${steadyPairs} during the steady runs, ${c16Pairs} during the concurrent runs`);
      figures[`decrypt_steady_${state}_pairs_made`] = steadyPairs;
      figures[`decrypt_c16_${state}_pairs_made`] = c16Pairs;
    }
    await pooled.service.stop();
    pooled = undefined;

    // No pool: every key made on request, as on a miss.
    unpooled = await startService({ KEY_POOL_SIZE: '0' }, join(workDir, 'unpooled'));
    await generateLoad(unpooled, 1, 3); // warm-up
    report('generateEncryptionKey, no pool (made on request), sequential', 'empty_seq', await generateLoad(unpooled, 1, SEQUENTIAL));
    report(`generateEncryptionKey, no pool (made on request), ${CONCURRENCY} concurrent`, 'empty_c16', await generateLoad(unpooled, CONCURRENCY, PER_CLIENT));
    await unpooled.service.stop();
    unpooled = undefined;
  } finally {
    await pooled?.service.stop();
    await unpooled?.service.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const rawAfter = await rawKeyGeneration(RAW_SAMPLES);
  const rawP50 = percentile([...raw, ...rawAfter].sort((a, b) => a - b), 50);
  console.log(`raw crypto.generateKeyPair RSA-2048 (this process, sequential): p50 ${percentile([...rawAfter].sort((a, b) => a - b), 50).toFixed(1)} ms (after); both: ${rawP50.toFixed(1)} ms`);
  figures.raw_keygen_p50_ms = round(rawP50);
  figures.warm_seq_p50_over_raw = round(figures.warm_seq_p50_ms / rawP50, 3);
  figures.warm_c16_p50_over_raw = round(figures.warm_c16_p50_ms / rawP50, 3);
  figures.empty_seq_p50_over_warm = round(figures.empty_seq_p50_ms / figures.warm_seq_p50_ms, 1);
  figures.decrypt_steady_p99_refilling_over_full = round(figures.decrypt_steady_refilling_p99_ms / figures.decrypt_steady_pool_full_p99_ms, 2);
  figures.decrypt_c16_p99_refilling_over_full = round(figures.decrypt_c16_refilling_p99_ms / figures.decrypt_c16_pool_full_p99_ms, 2);
  console.log(
    `warm p50 / raw key generation p50: sequential ${figures.warm_seq_p50_over_raw}, ${CONCURRENCY} concurrent ${figures.warm_c16_p50_over_raw}; ` +
      `decryptData p99 refilling / full: steady ${figures.decrypt_steady_p99_refilling_over_full}, ${CONCURRENCY} concurrent ${figures.decrypt_c16_p99_refilling_over_full}`,
  );
  console.log(Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' '));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
