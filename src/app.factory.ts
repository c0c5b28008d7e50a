import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { batchLimitHook, requestIdOf } from './common';
import type { AppConfig } from './config';
import { configureCors } from './web';

/**
 * Fastify, not Express: about twice the requests per core on `{ __typename }` and a
 * third more on decryptData once the database is off the path (measured in the HTTP
 * spike; see README "Performance"). Its JSON parser takes REQUEST_BODY_LIMIT_BYTES
 * (413, answered as PAYLOAD_TOO_LARGE) and refuses `__proto__`; Nest's own parsers,
 * which would add form bodies, stay off (`bodyParser: false`).
 */
export function httpAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // The request id is made here, from a well-formed x-request-id or anew, so that
    // the request log line (pino-http, through Nest's middleware) uses the same one.
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

/** HTTP-level settings, shared with the e2e tests (which build the module themselves). */
export function configureApp(app: NestFastifyApplication, config: AppConfig): NestFastifyApplication {
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // After the body is parsed (Nest middleware runs earlier under Fastify, with no body yet).
  fastify.addHook('preHandler', batchLimitHook(config));
  configureCors(app, config);
  return app;
}
