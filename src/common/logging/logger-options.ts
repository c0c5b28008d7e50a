import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';
import type { AppConfig } from '../../config';
import { currentRequest } from '../request-context';
import { requestLogFields } from './request-log';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Anything that could carry a secret is cut before it is written, wherever it
 * appears in a log object. Request bodies and headers are never logged at all.
 */
const REDACT_PATHS = [
  'req.headers',
  'authorization',
  '*.authorization',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'encryptedData',
  '*.encryptedData',
  'data',
  '*.data',
  'key',
  '*.key',
];

/** One buffered stdout stream per process: the request lines and the process's own share it, so lines never interleave. */
let stdoutDestination: DestinationStream | undefined;

/** The longest a line waits in the stdout buffer when traffic is light. */
const STDOUT_FLUSH_MS = 100;

/**
 * Where JSON log lines go. stdout is written asynchronously, in writes of 4 KiB or
 * more, or every STDOUT_FLUSH_MS (a synchronous write per line to a pipe cost a tenth
 * of a request's CPU under load, an asynchronous write per line still about 5 %, and
 * each goes through libuv's pool, where RSA waits); pino flushes what is left at exit.
 * LOG_FILE is written synchronously, so that tests read every line. Pretty output
 * (development) goes through pino-pretty's own worker instead.
 */
export function logDestination(config: AppConfig): DestinationStream | undefined {
  if (config.log.file) return pino.destination({ dest: config.log.file, mkdir: true, sync: true });
  if (config.log.format !== 'json') return undefined;
  stdoutDestination ??= bufferedStdout();
  return stdoutDestination;
}

function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  // `_len`: what sonic-boom holds unwritten (a flush of nothing would write an empty chunk).
  setInterval(() => {
    if ((stream as unknown as { _len: number })._len > 0) stream.flush();
  }, STDOUT_FLUSH_MS).unref();
  return stream;
}

/** `destination` replaces stdout (the cluster primary writes through process.stdout, as it forwards its workers' lines). */
export function createLogger(config: AppConfig, name?: string, destination = logDestination(config)): pino.Logger {
  const options = { ...baseLoggerOptions(config), ...(name ? { name } : {}) };
  return destination ? pino(options, destination) : pino(options);
}

export function baseLoggerOptions(config: AppConfig): LoggerOptions {
  return {
    level: config.log.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // In a cluster, which worker wrote the line.
    base: cluster.isWorker ? { service: 'kms', worker: cluster.worker!.id } : { service: 'kms' },
    // A line written while serving a request (an internal error, say) says which request.
    mixin: () => {
      const request = currentRequest();
      return request ? { req: { id: request.id } } : {};
    },
    transport:
      config.log.format === 'pretty'
        ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } }
        : undefined,
  };
}

/** The caller's x-request-id when well-formed (so logs join up across services), else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The app's logger, which the request log hook writes through. */
export const REQUEST_LOGGER = Symbol('kms:requestLogger');

const PROBES = new Set(['/metrics', '/health', '/health/ready']);

/** A failure is an error, a refusal a warning; a successful probe or scrape every few seconds is not news. */
export function requestLogLevel(path: string, statusCode: number): pino.LevelWithSilent {
  if (statusCode >= 500) return 'error';
  if (statusCode >= 400) return 'warn';
  return PROBES.has(path) ? 'silent' : 'info';
}

/** The path only: a query string can carry a whole GraphQL operation and its values. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

type LoggedRequest = { id: string; method: string; url: string; raw: object };

/** What every request line says of its request: id, method, path, and what serving it noted. */
function requestFields(request: LoggedRequest, path = pathOf(request.url)) {
  return { req: { id: request.id, method: request.method, url: path }, ...requestLogFields(request.raw) };
}

/**
 * A Fastify onResponse hook that writes each request's one line through the app's
 * logger: every request, refused ones included (a body the parser refused never
 * reaches a handler), but successful probes and scrapes. Who asked for what and how
 * it went: the caller's key name (never the key), the GraphQL operation, its outcome
 * (error codes only) and the failures' reasons. No per-request child logger (which
 * cost more than a tenth of a decryptData's CPU with pino-http).
 */
export function requestLogHook(logger: pino.Logger) {
  return (
    request: LoggedRequest,
    reply: { statusCode: number; elapsedTime: number },
    done: () => void,
  ) => {
    const path = pathOf(request.url);
    const { statusCode } = reply;
    const level = requestLogLevel(path, statusCode);
    if (level !== 'silent' && logger.isLevelEnabled(level)) {
      const line = {
        ...requestFields(request, path),
        res: { statusCode },
        responseTime: Math.round(reply.elapsedTime),
      };
      if (statusCode >= 500) logger[level]({ ...line, err: { type: 'Error', message: `failed with status code ${statusCode}` } }, 'request errored');
      else logger[level](line, 'request completed');
    }
    done();
  };
}

/**
 * A Fastify onRequest hook: a request whose client went away before the answer was
 * written (Fastify then runs no onResponse) still gets its one line, as a warning.
 */
export function requestAbortLogHook(logger: pino.Logger) {
  return (
    request: LoggedRequest,
    reply: { raw: { once(event: 'close', listener: () => void): unknown; writableFinished: boolean } },
    done: () => void,
  ) => {
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      logger.warn({ ...requestFields(request), aborted: true }, 'request aborted');
    });
    done();
  };
}
