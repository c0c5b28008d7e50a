import { startTestApp, TestApp } from '../support/test-app';

const LIMIT = 2048;

/** Requests the HTTP layer refuses before any handler runs: bodies too large, malformed, of a type we do not parse. */
describe('requests refused by the HTTP layer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { REQUEST_BODY_LIMIT_BYTES: String(LIMIT) } });
  });
  afterAll(() => t.close());

  const send = (path: string, contentType: string, body: string) =>
    fetch(`${t.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  /** The log lines of one request, by its x-request-id. */
  const linesOf = async (response: Response) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const id = response.headers.get('x-request-id');
    expect(id).toBeTruthy();
    return t.logs.all().filter((line) => JSON.stringify(line).includes(id!));
  };

  it.each([
    ['/graphql', 'application/json'],
    ['/graphql', 'text/plain'],
    ['/health', 'application/json'],
    ['/health', 'text/plain'],
  ])('refuses a body over REQUEST_BODY_LIMIT_BYTES on %s as %s with 413', async (path, contentType) => {
    const response = await send(path, contentType, `{"query":"{ __typename }","pad":"${'x'.repeat(LIMIT)}"}`);
    expect(response.status).toBe(413);
    const text = await response.text();
    expect(text).not.toContain('xxxx');
    if (path === '/graphql') {
      expect(JSON.parse(text)).toEqual({ errors: [{ message: 'Request body too large', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    }
  });

  it('refuses a 5 MB body to /health in one log line: correlation id and error name, no stack', async () => {
    const mark = t.logs.mark();
    const response = await send('/health', 'application/json', JSON.stringify({ pad: 'y'.repeat(5 * 1024 * 1024) }));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body too large' });
    const lines = await linesOf(response);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ res: { statusCode: 413 }, errorName: expect.any(String) });
    const text = JSON.stringify(t.logs.since(mark));
    expect(text).not.toMatch(/\bat \S+ \(|stack|\.ts:\d+|\.js:\d+/);
    expect(text).not.toContain('yyyy');
  });

  it.each(['/health', '/graphql', '/metrics', '/nowhere'])(
    'answers malformed JSON on %s with 400, echoing nothing of the body, in one log line without a stack',
    async (path) => {
      const mark = t.logs.mark();
      const response = await send(path, 'application/json', '{"query": "{ __typename }", secret-fragment-1234');
      expect(response.status).toBe(400);
      expect(await response.text()).not.toMatch(/secret-fragment|1234|__typename/);
      const lines = await linesOf(response);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ req: { url: path }, res: { statusCode: 400 } });
      const text = JSON.stringify(t.logs.since(mark));
      expect(text).not.toMatch(/\bat \S+ \(|stack|\.ts:\d+|\.js:\d+|secret-fragment/);
    },
  );

  it('answers a form-encoded body with 415 and one log line', async () => {
    const response = await send('/graphql', 'application/x-www-form-urlencoded', 'query=%7B__typename%7D');
    expect(response.status).toBe(415);
    expect(await linesOf(response)).toHaveLength(1);
  });
});
