import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config';

/** How long a browser may reuse a preflight answer, seconds (Chromium caps it at 7200). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for the exact origins of CORS_ORIGINS, through @fastify/cors (which Nest's Fastify
 * adapter bundles): preflights from those origins are answered with 204, POST and GET,
 * `Authorization` and `Content-Type`; no credentials (API keys travel in a header, never in
 * cookies). Apollo's CSRF prevention stays on: a cross-origin POST with a JSON body is
 * preflighted, which is what it asks for. A preflight from any other origin is refused
 * with 403 and no CORS headers, so the browser blocks the request and its console names
 * the real cause instead of a CSRF message. With no origins listed nothing is registered.
 */
export function configureCors(app: NestFastifyApplication, config: AppConfig): void {
  const allowed = new Set(config.http.corsOrigins);
  if (allowed.size === 0) return;
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: string | false) => void) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: ['x-request-id'],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
  // Runs after the CORS hook, which has already answered every preflight it allows.
  app.getHttpAdapter().getInstance().addHook('onRequest', (request, reply, done) => {
    if (request.method === 'OPTIONS' && request.headers.origin && request.headers['access-control-request-method']) {
      reply
        .code(403)
        .header('content-type', 'text/plain; charset=utf-8')
        .send('CORS: this origin is not allowed; the service lists the allowed ones in CORS_ORIGINS\n');
      return;
    }
    done();
  });
}
