import { getIntrospectionQuery } from 'graphql';
import { encryptWithWebCrypto } from '../support/clients';
import { decrypt, errorCode, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

const post = (t: TestApp, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** `__type(name: "Query") { fields { type { ofType { ... name } } } }`: `depth` nested fields, the leaf included. */
const nestedTypeQuery = (depth: number) => {
  let selection = 'name';
  for (let level = 0; level < depth - 4; level += 1) selection = `ofType { ${selection} }`;
  return `{ __type(name: "Query") { fields { type { ${selection} } } } }`;
};

describe('GraphQL limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        GRAPHQL_MAX_DEPTH: '6',
        GRAPHQL_MAX_ALIASES: '3',
        GRAPHQL_MAX_FIELDS: '10',
        GRAPHQL_MAX_BATCH: '2',
        GRAPHQL_MAX_TOKENS: '300',
        REQUEST_BODY_LIMIT_BYTES: '4096', // the standard introspection query is about 2 KB
      },
    });
  });
  afterAll(() => t.close());

  it('bounds query depth (GRAPHQL_MAX_DEPTH)', async () => {
    expect((await t.gql(nestedTypeQuery(6))).errors).toBeUndefined();
    const deep = await t.gql(nestedTypeQuery(7));
    expect(errorCode(deep)).toBe('BAD_USER_INPUT');
    expect(deep.errors![0].message).toMatch(/depth/i);
    expect(deep.data).toBeUndefined();
  });

  it('bounds schema introspection too (development): the standard query passes, one level deeper does not', async () => {
    const standard = await t.gql(getIntrospectionQuery({ inputValueDeprecation: true, oneOf: true }));
    expect(standard.errors).toBeUndefined();
    expect(standard.data!.__schema.queryType).toMatchObject({ name: 'Query' });
    const deeper = await t.gql(getIntrospectionQuery({ typeDepth: 10 }));
    expect(errorCode(deeper)).toBe('BAD_USER_INPUT');
    expect(deeper.errors![0].message).toMatch(/depth limit of 15 exceeded, found 16/);
    expect(deeper.data).toBeUndefined();
  });

  it('bounds the tokens of a document (GRAPHQL_MAX_TOKENS): parsing stops before any other rule runs', async () => {
    const response = await t.gql(`{ ${'a '.repeat(300)}}`); // unknown fields: the parser refuses first
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors).toHaveLength(1);
    expect(response.errors![0].message).toMatch(/more tha[nt] 300 tokens/);
  });

  it('bounds aliases (GRAPHQL_MAX_ALIASES)', async () => {
    const aliases = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: encryptionKey(keyId: "k${i}") { keyId }`).join(' ')} }`;
    expect((await t.gql(aliases(3))).errors).toBeUndefined();
    const many = await t.gql(aliases(4));
    expect(errorCode(many)).toBe('BAD_USER_INPUT');
    expect(many.errors![0].message).toMatch(/alias/i);
  });

  it('bounds field selections, fragments expanded (GRAPHQL_MAX_FIELDS)', async () => {
    const fields = (n: number) => `{ encryptionKey(keyId: "k") { ${Array(n - 1).fill('keyId').join(' ')} } }`;
    expect((await t.gql(fields(10))).errors).toBeUndefined();
    expect(errorCode(await t.gql(fields(11)))).toBe('BAD_USER_INPUT');
    const viaFragments = `{ encryptionKey(keyId: "k") { ...F ...G } } fragment F on EncryptionKey { keyId deviceId status algorithm publicKey } fragment G on EncryptionKey { ...F createdAt }`;
    const response = await t.gql(viaFragments);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0].message).toMatch(/more than 10 fields/);
  });

  it('bounds the operations of a batched request (GRAPHQL_MAX_BATCH)', async () => {
    const operation = { query: '{ __typename }' };
    const two = await post(t, [operation, operation]);
    expect(two.status).toBe(200);
    expect(await two.json()).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
    const three = await post(t, [operation, operation, operation]);
    expect(three.status).toBe(400);
    expect(await three.json()).toEqual({
      errors: [{ message: 'A batch may hold at most 2 operations', extensions: { code: 'BAD_USER_INPUT' } }],
    });
  });

  it('bounds the request body (REQUEST_BODY_LIMIT_BYTES) with PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(4200) } });
    const response = await post(t, body);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors: [{ message: 'Request body too large', extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
  });

  it('answers malformed JSON with BAD_USER_INPUT and no echo of the body', async () => {
    const response = await post(t, '{"query": "{ __typename }", oops-secret-fragment');
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ errors: [{ message: 'Malformed request body', extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(text).not.toContain('oops-secret');
  });

  it('parses JSON only: a form-encoded body runs nothing, even with a preflight header', async () => {
    for (const size of [100, 50_000]) {
      const response = await fetch(`${t.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'apollo-require-preflight': 'true' },
        body: `query=${encodeURIComponent('{ __typename }')}&pad=${'x'.repeat(size)}`,
      });
      expect({ size, status: response.status }).toEqual({ size, status: 415 });
      expect(await response.json()).toEqual({
        errors: [{ message: 'Unsupported content type', extensions: { code: 'BAD_USER_INPUT' } }],
      });
    }
  });

  it('blocks cross-site request forgery shapes (Apollo CSRF prevention)', async () => {
    const simple = await fetch(`${t.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(simple.status).toBe(400);
    expect(errorCode((await simple.json()) as never)).toBe('BAD_USER_INPUT');
    const get = await fetch(`${t.baseUrl}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(400);
    const preflighted = await fetch(`${t.baseUrl}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(preflighted.status).toBe(200);
  });
});

describe('in production (NODE_ENV=production)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => t.close());

  it('turns introspection off', async () => {
    const response = await t.gql(getIntrospectionQuery(), undefined, t.as('admin'));
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.data).toBeUndefined();
  });

  it('serves no landing page', async () => {
    const response = await fetch(`${t.baseUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/<html/i);
  });

  it('does not suggest field names to strangers', async () => {
    const response = await t.gql('{ encryptionKy(keyId: "x") { keyId } }', undefined, t.as('client'));
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0].message).not.toMatch(/Did you mean/);
  });

  it('reports an unexpected failure as INTERNAL with a correlation id, no detail and no stack trace', async () => {
    const key = await generateKey(t, newDeviceId(), undefined, t.as('client'));
    // A wrapped private key copied to another row no longer authenticates: a server-side fault.
    const stored = await t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: key.keyId } });
    await t.prisma.clientEncryptionKey.create({ data: { ...stored, id: `${key.keyId}-copy` } });
    const encryptedData = await encryptWithWebCrypto(key.publicKey, 'fault injection');
    const response = await decrypt(t, { keyId: `${key.keyId}-copy`, encryptedData });

    expect(response.errors).toHaveLength(1);
    const [error] = response.errors!;
    expect(error.extensions).toEqual({ code: 'INTERNAL', correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(error.message).toBe(`Internal error (correlation id ${error.extensions.correlationId})`);
    expect(JSON.stringify(response)).not.toMatch(/stack|at \w+ \(|\.ts:\d+|unwrap|aes|authenticate/i);
  });

  it('shows the landing page outside production', async () => {
    const development = await startTestApp();
    try {
      const response = await fetch(`${development.baseUrl}/graphql`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/<html/i);
    } finally {
      await development.close();
    }
  });
});
