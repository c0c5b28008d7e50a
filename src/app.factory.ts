import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { batchLimitHook, REQUEST_LOGGER, requestAbortLogHook, requestContextHook, requestIdOf, requestLogHook } from './common';
import type { AppConfig } from './config';
import { configureCors } from './web';

/**
 * Fastify, not Express: about twice the requests per core on `{ __typename }` and a
 * third more on decryptData once the database is off the path (measured in the HTTP
 * spike; see README "Processes, caches and connections"). Its two parsers, JSON and
 * text/plain, take REQUEST_BODY_LIMIT_BYTES (413, answered as PAYLOAD_TOO_LARGE; JSON
 * refuses `__proto__`); Nest's own parsers, which would add form bodies, stay off
 * (`bodyParser: false`), so a form body is 415.
 */
export function httpAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // The request id is made here, from a well-formed x-request-id or anew, so that
    // the request log line (requestLogHook) uses the same one.
    genReqId: requestIdOf,
    requestIdHeader: false,
  });
}

/** Options of every Nest application of the service (main and the e2e tests). */
export const APPLICATION_OPTIONS = { bufferLogs: true, bodyParser: false } as const;

/** Builds the HTTP application (not yet listening) for main.ts. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    httpAdapter(config),
    APPLICATION_OPTIONS,
  );
  return configureApp(app, config);
}

/** Apps whose HTTP server is draining (closeGracefully): their answers say Connection: close. */
const draining = new WeakSet<object>();

/** HTTP-level settings, shared with the e2e tests (which build the module themselves). */
export function configureApp(app: NestFastifyApplication, config: AppConfig): NestFastifyApplication {
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onResponse', requestLogHook(app.get(REQUEST_LOGGER)));
  fastify.addHook('onRequest', requestAbortLogHook(app.get(REQUEST_LOGGER)));
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (draining.has(app)) reply.header('connection', 'close');
    done(null, payload);
  });
  // After the body is parsed (Nest middleware runs earlier under Fastify, with no body yet).
  fastify.addHook('preHandler', batchLimitHook(config));
  // Operations learn which request they serve (the key generation budgets count per caller and per request).
  fastify.addHook('preHandler', requestContextHook());
  configureCors(app, config);
  return app;
}

/**
 * Shutdown without dropping a request: stop accepting connections, answer whatever
 * arrives on kept-alive ones for `keepAliveGraceMs` with `Connection: close` (so each
 * closes once answered), then close the idle ones, wait for those still answering
 * (half of SHUTDOWN_TIMEOUT_MS at most: the rest is for writing what is buffered),
 * and only then close the app (GraphQL, buffered writes, the database). Node's own
 * server.close() closes idle keep-alive connections at once, which resets a request
 * a client has just sent on one.
 */
export async function closeGracefully(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const server = app.getHttpServer() as Server;
  draining.add(app);
  const drained = new Promise<void>((resolve) => {
    // net.Server's close: stop listening, keep the open connections.
    NetServer.prototype.close.call(server, () => resolve());
  });
  const grace = sleep(config.http.keepAliveGraceMs, undefined, { ref: false });
  await Promise.race([drained, grace]);
  server.closeIdleConnections();
  const answering = sleep(Math.max(0, config.http.shutdownTimeoutMs / 2 - config.http.keepAliveGraceMs), false, { ref: false });
  if (!(await Promise.race([drained.then(() => true), answering]))) server.closeAllConnections();
  await app.close();
}
