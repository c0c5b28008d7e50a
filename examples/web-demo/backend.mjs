#!/usr/bin/env node
/**
 * The app backend of the device demo (/demo), as small as it can be: Node >= 20, no
 * dependencies. It holds the KMS `service` API key, which never goes to a browser, and
 * turns two requests of the page into setPasscode / verifyPasscode. KMS error codes are
 * relayed unchanged, so that the page can react to KEY_EXPIRED and the like.
 *
 *   KMS_SERVICE_KEY=kms_... node examples/web-demo/backend.mjs
 *
 * KMS_URL (default http://localhost:3000/graphql), PORT (3001), HOST (127.0.0.1),
 * PAGE_ORIGINS: the origins of the page, comma-separated (default: the KMS's demo page,
 * http://localhost:3000 and http://127.0.0.1:3000).
 */
import { createServer } from 'node:http';

const KMS_URL = process.env.KMS_URL || 'http://localhost:3000/graphql';
const SERVICE_KEY = process.env.KMS_SERVICE_KEY;
const PORT = Number(process.env.PORT || 3001);
const HOST = process.env.HOST || '127.0.0.1';
const PAGE_ORIGINS = new Set(
  (process.env.PAGE_ORIGINS || 'http://localhost:3000,http://127.0.0.1:3000').split(',').map((o) => o.trim()),
);
const MAX_BODY_BYTES = 8192;

if (!SERVICE_KEY) {
  process.stderr.write(
    'KMS_SERVICE_KEY is not set. Create one with the service scope:\n' +
      '  npm run -s apikeys -- create --name demo-backend --scopes service\n',
  );
  process.exit(2);
}

/** The page's requests: path → KMS operation. A real backend takes userId from its own session, not from the page. */
const ROUTES = {
  '/passcode/set': {
    field: 'setPasscode',
    document: 'mutation SetPasscode($input: SetPasscodeInput!) { setPasscode(input: $input) }',
  },
  '/passcode/verify': {
    field: 'verifyPasscode',
    document:
      'mutation VerifyPasscode($input: VerifyPasscodeInput!) { verifyPasscode(input: $input) { valid remainingAttempts lockedUntil } }',
  },
};

const server = createServer(async (request, response) => {
  const origin = request.headers.origin;
  const allowedOrigin = origin !== undefined && PAGE_ORIGINS.has(origin);
  const reply = (status, body) => {
    response.writeHead(status, {
      'content-type': 'application/json',
      vary: 'Origin',
      ...(allowedOrigin ? { 'access-control-allow-origin': origin } : {}),
    });
    response.end(JSON.stringify(body));
    const code = body.error?.code ?? 'ok';
    process.stdout.write(`${request.method} ${request.url} ${status} ${code}\n`); // never bodies: they hold ciphertexts
  };

  // The page is on the KMS's origin, this backend on another: the browser asks first.
  if (request.method === 'OPTIONS') {
    if (!allowedOrigin) return reply(403, { error: { code: 'FORBIDDEN', message: 'origin not in PAGE_ORIGINS' } });
    response.writeHead(204, {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    return response.end();
  }
  const route = request.method === 'POST' ? ROUTES[request.url] : undefined;
  if (!route) return reply(404, { error: { code: 'NOT_FOUND', message: 'POST /passcode/set or /passcode/verify' } });

  let input;
  try {
    input = JSON.parse(await readBody(request));
  } catch (error) {
    return reply(error.tooLarge ? 413 : 400, { error: { code: 'BAD_USER_INPUT', message: 'expected a small JSON body' } });
  }
  const { userId, keyId, encryptedPasscode } = input ?? {};
  if (![userId, keyId, encryptedPasscode].every((value) => typeof value === 'string')) {
    return reply(400, { error: { code: 'BAD_USER_INPUT', message: 'userId, keyId and encryptedPasscode are required' } });
  }

  let answer;
  try {
    const kms = await fetch(KMS_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVICE_KEY}` },
      body: JSON.stringify({ query: route.document, variables: { input: { userId, keyId, encryptedPasscode } } }),
    });
    answer = await kms.json();
  } catch {
    return reply(502, { error: { code: 'NETWORK_ERROR', message: 'the KMS is unreachable' } });
  }
  const [error] = answer.errors ?? [];
  if (error) {
    // KEY_EXPIRED, KEY_REVOKED, CREDENTIAL_LOCKED (with lockedUntil), WEAK_CREDENTIAL, ...: as the KMS said.
    const { code = 'INTERNAL', ...details } = error.extensions ?? {};
    return reply(400, { error: { code, message: error.message, ...details } });
  }
  return reply(200, { result: answer.data[route.field] });
});

/** The body as text; past MAX_BODY_BYTES the rest is read and dropped, and the promise fails. */
function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () =>
      size > MAX_BODY_BYTES
        ? reject(Object.assign(new Error('body too large'), { tooLarge: true }))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    );
    request.on('error', reject);
  });
}

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  process.stdout.write(`demo backend listening on http://${HOST}:${port} (KMS ${KMS_URL}; pages from ${[...PAGE_ORIGINS].join(', ')})\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
