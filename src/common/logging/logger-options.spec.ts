import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../config/app-config';
import { requestContextHook } from '../request-context';
import { baseLoggerOptions, requestLogHook } from './logger-options';
import { requestLogFields } from './request-log';

/** A logger with the service's options writing JSON lines into `lines`. */
function capturingLogger(lines: Record<string, any>[]) {
  const config = loadConfig({ LOG_FORMAT: 'json', LOG_LEVEL: 'info' });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino(baseLoggerOptions(config), sink);
}

describe('requestLogHook', () => {
  const respond = (hook: ReturnType<typeof requestLogHook>, url: string, statusCode: number, raw: object = {}) =>
    new Promise<void>((resolve) => hook({ id: 'req-1', method: 'POST', url, raw }, { statusCode, elapsedTime: 2.4 }, resolve));

  it('writes one line per request: id, method, path without query, status, time and what the request noted', async () => {
    const lines: Record<string, any>[] = [];
    const hook = requestLogHook(capturingLogger(lines));
    const raw = {};
    Object.assign(requestLogFields(raw), { callerKey: 'svc', operation: 'Decrypt', outcome: 'ok' });
    await respond(hook, '/graphql?query=secret-in-query', 200, raw);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        service: 'kms',
        msg: 'request completed',
        req: { id: 'req-1', method: 'POST', url: '/graphql' },
        res: { statusCode: 200 },
        responseTime: 2,
        callerKey: 'svc',
        operation: 'Decrypt',
        outcome: 'ok',
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret-in-query');
  });

  it('is silent for successful probes and scrapes, warns on 4xx, errs on 5xx', async () => {
    const lines: Record<string, any>[] = [];
    const hook = requestLogHook(capturingLogger(lines));
    for (const path of ['/health', '/health/ready', '/metrics']) await respond(hook, path, 200);
    expect(lines).toEqual([]);
    await respond(hook, '/metrics', 401);
    await respond(hook, '/health', 503);
    expect(lines.map((line) => [line.level, line.msg, line.res.statusCode])).toEqual([
      [40, 'request completed', 401],
      [50, 'request errored', 503],
    ]);
  });

  it('redacts what could carry a secret, whoever noted it', async () => {
    const lines: Record<string, any>[] = [];
    const hook = requestLogHook(capturingLogger(lines));
    const raw = {};
    Object.assign(requestLogFields(raw), { key: 'kms_secret-key', data: 'plaintext' });
    await respond(hook, '/graphql', 200, raw);
    expect(JSON.stringify(lines)).not.toMatch(/kms_secret-key|plaintext/);
  });
});

describe('log lines written while serving a request', () => {
  it('carry the request id', async () => {
    const lines: Record<string, any>[] = [];
    const logger = capturingLogger(lines);
    logger.info('outside');
    await new Promise<void>((resolve) =>
      requestContextHook()({ id: 'req-2', ip: '127.0.0.1', raw: {} }, undefined, () => {
        logger.error({ correlationId: 'c-1' }, 'internal error');
        resolve();
      }),
    );
    expect(lines.map((line) => [line.msg, line.req])).toEqual([
      ['outside', undefined],
      ['internal error', { id: 'req-2' }],
    ]);
  });
});
