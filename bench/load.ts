/**
 * Tools of the load benchmarks: the service as a user runs it (a child process, its
 * log going to a file, every worker), closed-loop HTTP load from `wrk` (a separate
 * process, checking every answer), the CPU time the service's processes spend, and
 * the machine's raw RSA-OAEP and argon2 rates with one thread per CPU.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { constants, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { freePort } from '../test/support/free-port';
import { graphqlCaller, percentile } from './support';

const ROOT = join(__dirname, '..');
const run = promisify(execFile);

export interface LoadService {
  child: ChildProcess;
  port: number;
  url: string;
  logFile: string;
  adminKey: string;
  gql(query: string, variables: object, key?: string): Promise<any>;
  /** Every process of the service but PostgreSQL: the primary and its workers. */
  nodePids(): number[];
  stop(): Promise<number | null>;
}

/**
 * Waits until the service's key pool has stopped refilling: full, or at least at its
 * refill mark with no pair made for 3 s. A refill runs at nice 19 but still costs CPU
 * and cache, and set-up (keys for the load's devices) drains the pool: loads measured
 * while it refills are measured against a moving machine.
 */
export async function waitForKeyPool(service: LoadService, opsKey: string, env: Record<string, string>, timeoutMs = 300_000) {
  const size = Number(env.KEY_POOL_SIZE ?? 64);
  const refillBelow = Number(env.KEY_POOL_REFILL_BELOW ?? 48);
  if (size === 0) return;
  const read = async () => {
    const response = await fetch(`http://127.0.0.1:${service.port}/metrics`, { headers: { authorization: `Bearer ${opsKey}` } });
    if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
    const text = await response.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { pairs: value('kms_key_pool_pairs'), made: value('kms_key_pool_refill_seconds_count') };
  };
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  let still = 0;
  while (Date.now() < deadline) {
    if (last.pairs >= size) return;
    await sleep(1000);
    const now = await read();
    still = now.made === last.made ? still + 1 : 0;
    if (still >= 3 && now.pairs >= refillBelow) return;
    last = now;
  }
  console.log(`key pool still refilling after ${timeoutMs / 1000} s (${last.pairs} pairs): figures include its CPU`);
}

export function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version.
    return (error as { status?: number }).status === 1;
  }
}

/**
 * `node dist`-like start of src/main.ts with no LOG_FORMAT (the default a user gets),
 * stdout and stderr to a file as when piped to a collector, its own embedded PostgreSQL.
 */
export async function startLoadService(
  env: Record<string, string>,
  options: { nodeArgs?: string[]; workDir?: string } = {},
): Promise<LoadService> {
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'kms-bench-'));
  // As root the embedded PostgreSQL runs as another user, which must enter the directory.
  chmodSync(workDir, 0o711);
  const dataDir = join(workDir, 'data');
  const logFile = join(workDir, 'service.log');
  const adminKey = `bench-admin-${randomBytes(24).toString('base64url')}`;
  const port = await freePort();
  const output = openSync(logFile, 'a');
  // KMS_BENCH_ROOT: another checkout of the service (say, the commit before a change), compared in the same run.
  const { KMS_BENCH_ROOT: root = ROOT, ...serviceEnv } = env;
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', ...(options.nodeArgs ?? []), 'src/main.ts'],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: dataDir,
        EMBEDDED_PG_PORT: String(await freePort()),
        PORT: String(port),
        HOST: '127.0.0.1',
        KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
        KMS_BOOTSTRAP_ADMIN_KEY: adminKey,
        MAX_KEY_GEN_PER_DEVICE: '1000',
        ...serviceEnv,
      },
      stdio: ['ignore', output, output],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    if (existsSync(logFile) && /serving GraphQL/.test(readFileSync(logFile, 'utf8'))) break;
    if (Date.now() > deadline) throw new Error('service did not start in 180 s');
    await sleep(200);
  }
  const url = `http://127.0.0.1:${port}/graphql`;
  const gql = graphqlCaller(url);
  return {
    child,
    port,
    url,
    logFile,
    adminKey,
    gql,
    nodePids: () => processTree(child.pid!).filter((p) => !isPostgres(p)).map((p) => p.pid),
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      if (!options.workDir) rmSync(workDir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** user + system CPU, ms */
  cpuMs: number;
}

const isPostgres = (info: ProcessInfo) => info.comm.startsWith('postgres');

/**
 * A /proc stat file (`/proc/<pid>/stat` for a process, `/proc/<pid>/task/<tid>/stat` for
 * one of its threads): parent, command and user + system CPU.
 */
export function readProcStat(path: string): Omit<ProcessInfo, 'pid'> {
  const stat = readFileSync(path, 'utf8');
  const close = stat.lastIndexOf(')'); // the command may itself hold ") "
  const fields = stat.slice(close + 2).split(' ');
  return {
    ppid: Number(fields[1]),
    comm: stat.slice(stat.indexOf('(') + 1, close),
    cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, // CLK_TCK = 100
  };
}

/** The process and all its descendants, from /proc. */
export function processTree(rootPid: number): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      all.push({ pid: Number(entry), ...readProcStat(`/proc/${entry}/stat`) });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const info of all) {
      if (tree.has(info.pid) || !tree.has(info.ppid)) continue;
      tree.add(info.pid);
      grew = true;
    }
  }
  return all.filter((info) => tree.has(info.pid));
}

/** A main thread's time on a CPU and waiting for one, ns since it started. */
interface MainThreadTimes {
  runNs: number;
  waitNs: number;
}

/**
 * Per node process of the service, its main thread's time on a CPU and waiting for one
 * (ns, /proc/<pid>/schedstat: run time, run-queue delay); empty where /proc has no such
 * file. A worker's requests wait while its main thread does.
 */
export function mainThreadSchedule(processes: ProcessInfo[]): Map<number, MainThreadTimes> {
  const schedule = new Map<number, MainThreadTimes>();
  for (const info of processes) {
    if (isPostgres(info)) continue;
    try {
      const [runNs, waitNs] = readFileSync(`/proc/${info.pid}/schedstat`, 'utf8').split(' ').map(Number);
      schedule.set(info.pid, { runNs, waitNs });
    } catch {
      // gone meanwhile, or no schedstat on this kernel
    }
  }
  return schedule;
}

/**
 * The share of a window that the service's busy node processes (a tenth of the window on
 * a CPU or more: the workers under load) spent ready to run but waiting for a CPU, their
 * mean; undefined where the kernel does not say.
 */
export function cpuWaitShare(
  before: Map<number, MainThreadTimes>,
  after: Map<number, MainThreadTimes>,
  windowMs: number,
): number | undefined {
  const shares: number[] = [];
  for (const [pid, end] of after) {
    const start = before.get(pid);
    if (!start || end.runNs - start.runNs < windowMs * 1e5) continue;
    shares.push((end.waitNs - start.waitNs) / (windowMs * 1e6));
  }
  return shares.length === 0 ? undefined : shares.reduce((sum, share) => sum + share, 0) / shares.length;
}

/** CPU ms spent so far by the service's node processes and by its PostgreSQL. */
export function serviceCpu(processes: ProcessInfo[]): { node: number; postgres: number } {
  let node = 0;
  let postgres = 0;
  for (const info of processes) {
    if (isPostgres(info)) postgres += info.cpuMs;
    else node += info.cpuMs;
  }
  return { node, postgres };
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /**
   * The same requests as the service timed them (the request lines' responseTime, whole
   * ms, from Fastify's onRequest to its answer): the rest of the client's latency passes
   * before the service reads a request (its event loop busy with others, or no CPU free).
   */
  inService: { p50Ms: number; p99Ms: number };
  /** Non-200 answers, answers without the expected text, socket errors and timeouts. */
  errors: number;
  firstError?: string;
  /** Service CPU per request, µs. */
  nodeCpuUs: number;
  postgresCpuUs: number;
  /**
   * The share of the run the busy workers' main threads spent ready but waiting for a
   * CPU (taken by the other workers, the load generator, PostgreSQL): their requests
   * waited as long. Undefined where /proc does not say.
   */
  cpuWaitShare?: number;
}

/**
 * `clients` connections in closed loops for `seconds`, cycling through `bodies`
 * (POST /graphql), each answer checked for `expect`. wrk runs as its own process.
 */
export async function runWrk(
  service: LoadService,
  options: {
    bodies: string[];
    headers: Record<string, string>;
    expect: string;
    clients: number;
    seconds: number;
    workDir: string;
    /** wrk's niceness (0: the service's priority). */
    nice?: number;
  },
): Promise<LoadResult> {
  const script = join(options.workDir, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.lua`);
  const headers = Object.entries({ 'Content-Type': 'application/json', ...options.headers })
    .map(([name, value]) => `[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
    .join(', ');
  writeFileSync(
    script,
    `local bodies = { ${options.bodies.map((body) => JSON.stringify(body)).join(',\n')} }
local requests = {}
init = function(args)
  for i, body in ipairs(bodies) do requests[i] = wrk.format("POST", "/graphql", { ${headers} }, body) end
end
local n = 0
request = function()
  n = n + 1
  return requests[((n - 1) % #requests) + 1]
end
bad = 0
first = ""
response = function(status, headers, body)
  if status ~= 200 or not body:find(${JSON.stringify(options.expect)}, 1, true) then
    bad = bad + 1
    if first == "" then first = status .. " " .. body:sub(1, 300) end
  end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local b = 0
  local f = ""
  for _, thread in ipairs(threads) do
    b = b + thread:get("bad")
    if f == "" then f = thread:get("first") end
  end
  local e = summary.errors
  io.write(string.format("RESULT bad=%d socket=%d p50=%d p90=%d p99=%d n=%d us=%d\\n", b, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), summary.requests, summary.duration))
  io.write("FIRST " .. f .. "\\n")
end
`,
  );
  // One walk of /proc for each end of the run: CPU of every process, waits of the node ones.
  const processesBefore = processTree(service.child.pid!);
  const before = serviceCpu(processesBefore);
  const scheduleBefore = mainThreadSchedule(processesBefore);
  const logOffset = statSync(service.logFile).size;
  const startedAt = Date.now();
  const { stdout } = await run('nice', [
    '-n', String(options.nice ?? 0), 'wrk',
    '-t1', `-c${options.clients}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', script, `http://127.0.0.1:${service.port}/graphql`,
  ]);
  const processesAfter = processTree(service.child.pid!);
  const after = serviceCpu(processesAfter);
  const scheduleAfter = mainThreadSchedule(processesAfter);
  const endedAt = Date.now();
  rmSync(script, { force: true });
  const inService = await serviceTimes(service.logFile, logOffset, startedAt, endedAt);
  const match = /RESULT bad=(\d+) socket=(\d+) p50=(\d+) p90=(\d+) p99=(\d+) n=(\d+) us=(\d+)/.exec(stdout);
  if (!match) throw new Error(`unexpected wrk output: ${stdout}`);
  const [bad, socket, p50, p90, p99, requests, durationUs] = match.slice(1).map(Number);
  const first = /FIRST (.*)/.exec(stdout)?.[1]?.trim();
  return {
    requests,
    rps: requests / (durationUs / 1e6),
    p50Ms: p50 / 1000,
    p90Ms: p90 / 1000,
    p99Ms: p99 / 1000,
    inService,
    errors: bad + socket,
    firstError: first || undefined,
    nodeCpuUs: ((after.node - before.node) * 1000) / Math.max(1, requests),
    postgresCpuUs: ((after.postgres - before.postgres) * 1000) / Math.max(1, requests),
    cpuWaitShare: cpuWaitShare(scheduleBefore, scheduleAfter, endedAt - startedAt),
  };
}

/**
 * Percentiles of responseTime over the request lines the service logged between
 * `from` and `to` (ms since the epoch), read from byte `offset` of its log. Waits for
 * the lines to come through (a worker's log buffer flushes every 100 ms, then the
 * cluster primary forwards it).
 */
async function serviceTimes(logFile: string, offset: number, from: number, to: number) {
  await sleep(500);
  const times: number[] = [];
  const text = readFileSync(logFile).subarray(offset).toString('utf8');
  for (const line of text.split('\n')) {
    if (!line.includes('"request completed"')) continue;
    let entry: { time?: number; responseTime?: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // the line being written as we read
    }
    const { time = 0, responseTime } = entry;
    if (time >= from && time <= to && typeof responseTime === 'number') times.push(responseTime);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
}

/** Source of a worker thread running `body` (a loop) until `seconds` pass; posts how many it did. */
function timedLoopWorker(setup: string, step: string, seconds: number): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
${setup}
const deadline = Date.now() + ${seconds * 1000};
let done = 0;
(async () => {
  while (Date.now() < deadline) { ${step}; done += 1; }
  parentPort.postMessage(done);
})();`;
}

/**
 * RSA-2048 OAEP-SHA256 private-key operations per second on this machine, with one
 * worker thread per CPU (synchronous node:crypto, a parsed key), the ceiling of decryptData.
 */
export async function rawRsaOaepRate(seconds = 3, threads = availableParallelism()): Promise<RawRate> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ciphertext = publicEncrypt({ key: publicKey, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, Buffer.from('bench secret 123456'));
  const source = timedLoopWorker(
    `const crypto = require('node:crypto');
const key = crypto.createPrivateKey(workerData.pem);
const ciphertext = Buffer.from(workerData.ciphertext, 'base64');
const options = { key, oaepHash: 'sha256', padding: crypto.constants.RSA_PKCS1_OAEP_PADDING };`,
    'crypto.privateDecrypt(options, ciphertext)',
    seconds,
  );
  return threadsRate(source, threads, { pem, ciphertext: ciphertext.toString('base64') }, seconds);
}

/** argon2id verifications per second with one thread per CPU, at the service's default cost. */
export async function rawArgon2Rate(
  seconds = 3,
  threads = availableParallelism(),
  cost = { memoryCost: 19456, timeCost: 2, parallelism: 1 },
): Promise<RawRate> {
  const source = timedLoopWorker(
    `const argon2 = require(${JSON.stringify(require.resolve('@node-rs/argon2'))});
const cost = workerData.cost;
const stored = argon2.hashSync('bench-passcode', { ...cost, algorithm: 2 });`,
    `argon2.verifySync(stored, 'bench-passcode')`,
    seconds,
  );
  return threadsRate(source, threads, { cost }, seconds);
}

/** Operations per second, and CPU per operation (µs, all threads): the latter barely moves when other processes compete. */
export interface RawRate {
  perSecond: number;
  cpuUsPerOp: number;
}

async function threadsRate(source: string, threads: number, workerData: object, seconds: number): Promise<RawRate> {
  const cpuBefore = process.cpuUsage();
  const counts = await Promise.all(
    Array.from({ length: threads }, () =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(source, { eval: true, workerData });
        worker.once('message', (count: number) => {
          resolve(count);
          void worker.terminate();
        });
        worker.once('error', reject);
      }),
    ),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const operations = counts.reduce((sum, count) => sum + count, 0);
  return { perSecond: operations / seconds, cpuUsPerOp: (cpu.user + cpu.system) / operations };
}
