import { startTestApp, TestApp } from '../support/test-app';

/**
 * The development pages over HTTP: the demo (/demo), the web client library compiled for
 * it (/demo/lib/*.js), the explorer (GET /graphql) and its files (/explorer/*); none of them
 * in production. What they do in a browser: test/browser.
 */
const get = (t: TestApp, path: string, headers: Record<string, string> = {}) => fetch(`${t.baseUrl}${path}`, { headers });

describe('development pages (outside production)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves the demo page and its script', async () => {
    const page = await get(t, '/demo');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/demo/app.js">');
    const script = await get(t, '/demo/app.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("from './lib/index.js'");
  });

  it('serves the web client library as browser modules compiled from clients/web/src', async () => {
    const index = await (await get(t, '/demo/lib/index.js')).text();
    expect(index).toContain("export { KmsClient, memoryStorage, webStorage } from './client.js';");
    const client = await get(t, '/demo/lib/client.js');
    expect(client.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await client.text();
    expect(code).toContain('export class KmsClient');
    expect(code).not.toMatch(/\binterface\b|: Promise<|private readonly/); // no TypeScript left
  });

  it.each([
    '/demo/backend.mjs', // the example backend is not the page's
    '/demo/lib/client.ts',
    '/demo/lib/index.d.ts',
    '/demo/lib/..%2f..%2f..%2fpackage.json.js',
    '/demo/lib/%2e%2e%2fcrypto.js',
    '/demo/..%2f..%2fpackage.json',
    '/explorer/package.json',
    '/explorer/..%2fgraphiql.min.js',
  ])('serves nothing else: %s is 404', async (path) => {
    const response = await get(t, path);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toMatch(/"name":\s*"key-management-service"|KmsClient/);
  });

  it('shows the explorer where a browser opens /graphql, from its own files only', async () => {
    const response = await get(t, '/graphql', { accept: 'text/html' });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<script src="/explorer/graphiql.min.js"></script>');
    expect(html).toContain('id="api-key"');
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no other host
    for (const file of ['graphiql.min.js', 'graphiql.min.css', 'react.production.min.js', 'react-dom.production.min.js']) {
      const asset = await get(t, `/explorer/${file}`);
      expect({ file, status: asset.status }).toEqual({ file, status: 200 });
    }
  });

  it("still applies Apollo's CSRF rule to GET queries that are not a browser opening the page", async () => {
    const query = `/graphql?query=${encodeURIComponent('{ __typename }')}`;
    expect((await get(t, query)).status).toBe(400);
    expect((await get(t, query, { 'apollo-require-preflight': 'true' })).status).toBe(200);
  });
});

describe('development pages in production (NODE_ENV=production)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => t.close());

  it.each(['/demo', '/demo/app.js', '/demo/lib/index.js', '/explorer/graphiql.min.js', '/explorer/react.production.min.js'])(
    'are not there: %s is 404',
    async (path) => {
      expect((await get(t, path)).status).toBe(404);
    },
  );

  it('shows no explorer at GET /graphql', async () => {
    const response = await get(t, '/graphql', { accept: 'text/html' });
    expect(await response.text()).not.toMatch(/<html|graphiql/i);
  });
});
