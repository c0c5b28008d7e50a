import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import type { AppConfig } from '../../config';
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

/**
 * Where JSON log lines go. stdout is written asynchronously (a synchronous write per
 * line to a pipe cost a tenth of a request's CPU under load; pino flushes what is
 * left at exit). LOG_FILE is written synchronously, so that tests read every line.
 * Pretty output (development) goes through pino-pretty's own worker instead.
 */
export function logDestination(config: AppConfig): DestinationStream | undefined {
  if (config.log.file) return pino.destination({ dest: config.log.file, mkdir: true, sync: true });
  return config.log.format === 'json' ? pino.destination({ dest: 1, sync: false }) : undefined;
}

/** `destination` replaces stdout (the cluster primary writes through process.stdout, as it forwards its workers' lines). */
export function createLogger(config: AppConfig, name: string, destination = logDestination(config)): pino.Logger {
  const options = { ...baseLoggerOptions(config), name };
  return destination ? pino(options, destination) : pino(options);
}

export function baseLoggerOptions(config: AppConfig): LoggerOptions {
  return {
    level: config.log.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // In a cluster, which worker wrote the line.
    base: cluster.isWorker ? { service: 'kms', worker: cluster.worker!.id } : { service: 'kms' },
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

export function httpLoggerOptions(config: AppConfig): PinoHttpOptions {
  return {
    ...baseLoggerOptions(config),
    // Fastify made the request's id (httpAdapter in app.factory.ts) and echoes it.
    genReqId: (req: IncomingMessage) => (typeof req.id === 'string' ? req.id : requestIdOf(req)),
    serializers: {
      // The path only: a query string can carry a whole GraphQL operation and its values.
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url.split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // Every request gets its line, refused ones included (a body the parser refused
    // never reaches a handler); successful probes and scrapes are silent below.
    // Who asked for what, and how it went: the caller's key name (never the key),
    // the GraphQL operation, its outcome (error codes only) and the failures' reasons.
    customProps: (req: IncomingMessage) => ({ ...requestLogFields(req) }),
    customLogLevel: (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, error?: Error) => {
      if (error || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      // A successful probe or scrape every few seconds is not news; a refused one is.
      // originalUrl: Nest's middleware layer on Fastify rewrites req.url while it runs.
      const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
      return path === '/metrics' || path === '/health' || path === '/health/ready' ? 'silent' : 'info';
    },
  };
}
