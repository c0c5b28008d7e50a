import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describeInBrowser, launchChromium, type Browser } from '../support/browser';
import { newDeviceId } from '../support/operations';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * A web page on another origin than the service calls it from Chromium: the origin in
 * CORS_ORIGINS gets its answers, an unlisted one is refused by the browser itself.
 */
async function pageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>a web app</title><p>another origin</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What a page's fetch of generateEncryptionKey gives: the answer, or the browser's refusal. */
function generateFrom(page: Page, endpoint: string, apiKey: string, deviceId: string) {
  return page.evaluate(
    async ({ endpoint, apiKey, deviceId }) => {
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({
            query: 'mutation G($input: GenerateEncryptionKeyInput!) { generateEncryptionKey(input: $input) { keyId } }',
            variables: { input: { deviceId } },
          }),
        });
        return { status: response.status, requestId: response.headers.get('x-request-id'), body: await response.json() };
      } catch (error) {
        return { refused: `${(error as Error).name}: ${(error as Error).message}` };
      }
    },
    { endpoint, apiKey, deviceId },
  );
}

describeInBrowser('CORS from another origin, in Chromium', () => {
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let unlisted: Awaited<ReturnType<typeof pageServer>>;
  let t: TestApp;
  let browser: Browser;
  let clientKey: string;

  beforeAll(async () => {
    [allowed, unlisted] = await Promise.all([pageServer(), pageServer()]);
    t = await startTestApp({ env: { CORS_ORIGINS: `https://app.example.com,${allowed.origin}` } });
    clientKey = t.as('client').authorization.replace(/^Bearer /, '');
    browser = await launchChromium([t.baseUrl, allowed.origin, unlisted.origin]);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await allowed?.close();
    await unlisted?.close();
  });

  const keysOf = (deviceId: string) => t.prisma.clientEncryptionKey.count({ where: { deviceId } });

  it('lets a page of a listed origin call the service, with an API key, after a preflight', async () => {
    const page = await browser.newPage();
    await page.goto(`${allowed.origin}/`);
    const deviceId = newDeviceId('cors');
    const answer = await generateFrom(page, `${t.baseUrl}/graphql`, clientKey, deviceId);
    expect(answer).toEqual({
      status: 200,
      requestId: expect.any(String), // an exposed header
      body: { data: { generateEncryptionKey: { keyId: expect.any(String) } } },
    });
    expect(await keysOf(deviceId)).toBe(1);
  });

  it('makes the browser refuse the call from an unlisted origin: the request never runs', async () => {
    const page = await browser.newPage();
    await page.goto(`${unlisted.origin}/`);
    const deviceId = newDeviceId('cors');
    expect(await generateFrom(page, `${t.baseUrl}/graphql`, clientKey, deviceId)).toEqual({
      refused: 'TypeError: Failed to fetch',
    });
    expect(await keysOf(deviceId)).toBe(0);
    // Even a request without a preflight: the browser does not let the page read the answer.
    const health = await page.evaluate((url) => fetch(url).then(() => 'read', (error: Error) => error.message), `${t.baseUrl}/health`);
    expect(health).toBe('Failed to fetch');
  });

  it('went to no other origin, and logged no page error', () => {
    expect(browser.foreign).toEqual([]);
    // Chromium reports each refusal on the console (and the failed load); nothing else may appear.
    const refusals = /blocked by CORS policy|Failed to load resource: net::ERR_FAILED/;
    expect(browser.errors.filter((error) => !refusals.test(error))).toEqual([]);
    expect(browser.errors.filter((error) => /blocked by CORS policy/.test(error))).toHaveLength(2);
  });
});
