import { startTestApp, TestApp } from '../support/test-app';

/**
 * CORS at the HTTP level (test/browser/cors.browser-spec.ts shows what a browser makes of
 * it): preflights of listed origins answered, others refused, no credentials, CSRF still on.
 */
const LISTED = 'https://app.example.com';
const preflight = (t: TestApp, origin: string, headers: Record<string, string> = {}) =>
  fetch(`${t.baseUrl}/graphql`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
      ...headers,
    },
  });
const accessControlHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));

describe('CORS with CORS_ORIGINS set', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: `${LISTED},http://localhost:5173` } });
  });
  afterAll(() => t.close());

  it('answers the preflight of a listed origin: its origin, POST, Authorization and Content-Type, no credentials', async () => {
    const response = await preflight(t, LISTED);
    expect(response.status).toBe(204);
    expect(accessControlHeaders(response)).toEqual({
      'access-control-allow-origin': LISTED,
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-expose-headers': 'x-request-id',
      'access-control-max-age': '600',
    });
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(await response.text()).toBe('');
  });

  it('answers the request itself with the origin and the exposed request id', async () => {
    const response = await t.gql('{ __typename }', undefined, { origin: 'http://localhost:5173' });
    expect(response.data).toEqual({ __typename: 'Query' });
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it.each([
    ['another site', 'https://evil.example.com'],
    ['a listed host on another scheme', 'http://app.example.com'],
    ['a listed host on another port', 'https://app.example.com:8443'],
    ['a sandboxed page or file', 'null'],
  ])('refuses the preflight of %s with 403 and no CORS headers', async (_what, origin) => {
    const response = await preflight(t, origin);
    expect(response.status).toBe(403);
    expect(accessControlHeaders(response)).toEqual({});
    expect(await response.text()).toMatch(/not allowed.*CORS_ORIGINS/);
  });

  it('gives no CORS headers to a request from an unlisted origin (CORS is no access control: the API key is)', async () => {
    const response = await t.gql('{ __typename }', undefined, { origin: 'https://evil.example.com' });
    expect(response.status).toBe(200);
    expect(accessControlHeaders({ headers: response.headers } as Response)).toEqual({});
  });

  it("keeps Apollo's CSRF prevention: a simple (unpreflighted) POST of a listed origin runs nothing", async () => {
    const response = await fetch(`${t.baseUrl}/graphql`, {
      method: 'POST',
      headers: { origin: LISTED, 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/CSRF|preflight/i);
  });
});

describe('CORS with CORS_ORIGINS empty (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('sends no CORS header to anyone, preflight or request', async () => {
    const answered = await preflight(t, LISTED);
    expect(accessControlHeaders(answered)).toEqual({});
    const response = await t.gql('{ __typename }', undefined, { origin: LISTED });
    expect(response.data).toEqual({ __typename: 'Query' });
    expect(accessControlHeaders({ headers: response.headers } as Response)).toEqual({});
  });
});
