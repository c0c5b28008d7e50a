import cluster, { type Worker } from 'node:cluster';
import type { Readable, Writable } from 'node:stream';
import type pino from 'pino';
import { answerClusterMetricsRequests } from './common';
import type { AppConfig } from './config';

/** A worker that dies while serving is replaced after this pause (doubling while they keep dying, up to a minute). */
const RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 60_000;

/**
 * Threads of libuv's pool per process, unless UV_THREADPOOL_SIZE says otherwise. Argon2,
 * key generation and key unwrapping run there (decryption's RSA runs on the event loop:
 * encryption/crypto/ciphertext.ts); libuv's default of 4 per process
 * put 8 threads on 2 CPUs with 2 workers, and argon2 (memory-hard) then cost a third
 * more CPU per verification (bench:encryption, verifyPasscode at 16 clients). The
 * CPUs shared out between the workers, but at least 2, so that a key generation
 * (about 150 ms) never holds the only thread a worker's decryptions wait for.
 */
export function threadPoolSize(cpus: number, workers: number): number {
  return Math.max(2, Math.ceil(cpus / workers));
}

/**
 * What a worker needs beyond the primary's own environment (which it inherits): the
 * database the primary resolved and migrated, the log format the primary chose (a
 * worker's stdout is a pipe to the primary, so it cannot see the terminal), and its
 * share of libuv's threads.
 */
export function workerEnvironment(config: AppConfig, databaseUrl: string, cpus: number): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    WEB_CONCURRENCY: String(config.workers),
    LOG_FORMAT: config.log.format,
    UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE || String(threadPoolSize(cpus, config.workers)),
  };
}

interface PrimaryOptions {
  config: AppConfig;
  log: pino.Logger;
  env: Record<string, string>;
  stopDatabase: () => Promise<void> | undefined;
}

/**
 * The cluster primary: forks WEB_CONCURRENCY workers that share the port (Node's
 * cluster hands each new connection to the next worker), forwards their output line
 * by line (one writer, so lines from several workers never interleave mid-line),
 * replaces a worker that dies while serving, and on SIGTERM/SIGINT asks each to drain
 * and flush, waits for all of them, and only then stops the database it started.
 * Workers share nothing in memory: every limit that must be exact lives in PostgreSQL.
 */
export function runPrimary({ config, log, env, stopDatabase }: PrimaryOptions) {
  cluster.setupPrimary({ silent: true });
  answerClusterMetricsRequests();
  const listening = new Set<Worker>();
  let started = false;
  let stopping = false;
  let restartDelay = RESTART_DELAY_MS;

  const fork = () => {
    const worker = cluster.fork(env);
    forwardLines(worker.process.stdout!, process.stdout);
    forwardLines(worker.process.stderr!, process.stderr);
    worker.on('message', (message: { type?: string; port?: number }) => {
      if (message?.type !== 'kms:listening') return;
      listening.add(worker);
      if (started) {
        log.info({ pid: worker.process.pid }, 'worker replaced');
        return;
      }
      if (listening.size < config.workers) return;
      started = true;
      const port = message.port;
      log.info({ workers: config.workers, port, url: `http://localhost:${port}/graphql` }, 'serving GraphQL');
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker);
      if (stopping) return;
      if (!started) {
        // A worker that cannot start (port taken, bad database) will not start again.
        log.error({ code, signal }, 'a worker failed to start');
        void stop('worker-start-failed', 1);
        return;
      }
      log.error({ pid: worker.process.pid, code, signal, restartInMs: restartDelay }, 'worker died: replacing it');
      setTimeout(fork, restartDelay).unref();
      restartDelay = Math.min(MAX_RESTART_DELAY_MS, restartDelay * 2);
    });
  };

  const stop = async (reason: string, failure = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: reason }, 'shutting down');
    // Workers have SHUTDOWN_TIMEOUT_MS each; then the database stops.
    exitIfStillRunningAfter(config.http.shutdownTimeoutMs + 1_000);
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => !!worker);
    const codes = await Promise.all(
      workers.map(
        (worker) =>
          new Promise<number | null>((resolve) => {
            if (worker.isDead()) return resolve(worker.process.exitCode);
            worker.once('exit', (code) => resolve(code));
            // A worker also gets SIGINT from a terminal itself; either way it drains once.
            worker.send({ type: 'kms:shutdown' }, () => undefined);
          }),
      ),
    );
    let code = failure || (codes.every((workerCode) => workerCode === 0) ? 0 : 1);
    await stopDatabase()?.catch(() => (code = 1));
    log.info({ code }, 'stopped');
    log.flush();
    process.exit(code);
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, (s) => void stop(s));
  for (let i = 0; i < config.workers; i += 1) fork();
}

/** The last resort of a shutdown that hangs. */
export function exitIfStillRunningAfter(ms: number) {
  setTimeout(() => {
    process.stderr.write('kms: shutdown timed out\n');
    process.exit(1);
  }, ms).unref();
}

/** Copies `from` to `to` in whole lines (a partial last line waits for its end). */
export function forwardLines(from: Readable, to: Writable) {
  let partial: Buffer = Buffer.alloc(0);
  from.on('data', (chunk: Buffer) => {
    const end = chunk.lastIndexOf(0x0a);
    if (end === -1) {
      partial = Buffer.concat([partial, chunk]);
      return;
    }
    const lines = partial.length > 0 ? Buffer.concat([partial, chunk.subarray(0, end + 1)]) : chunk.subarray(0, end + 1);
    partial = Buffer.from(chunk.subarray(end + 1));
    // Backpressure: a slow reader of our stdout slows the workers' writes, not our memory.
    if (!to.write(lines)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => {
    if (partial.length > 0) to.write(Buffer.concat([partial, Buffer.from('\n')]));
  });
}
