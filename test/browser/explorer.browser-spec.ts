import type { Page } from 'playwright-core';
import { describeInBrowser, launchChromium, type Browser } from '../support/browser';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * GET /graphql in Chromium with no network but the service itself: GraphiQL and React come
 * from the service's own files, the schema from introspection, the examples from the page.
 */
describeInBrowser('GraphQL explorer in Chromium, offline', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    t = await startTestApp();
    browser = await launchChromium([t.baseUrl]);
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The text of the response pane once it holds `expected`. */
  const response = async (expected: string) => {
    await page.waitForFunction(
      (text) => document.querySelector('.graphiql-response')?.textContent?.includes(text),
      expected,
      { timeout: 15_000 },
    );
    return (await page.textContent('.graphiql-response'))!;
  };
  const run = () => page.click('.graphiql-execute-button');

  it('opens where a browser opens GET /graphql, with the schema and the example operations', async () => {
    const answer = await page.goto(`${t.baseUrl}/graphql`);
    expect(answer!.status()).toBe(200);
    await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror');
    expect(await page.textContent('.graphiql-query-editor')).toContain('activeEncryptionKey(deviceId: $deviceId)');
    expect(await page.$$eval('.graphiql-tab', (tabs) => tabs.length)).toBe(6);
    // The schema arrived: the documentation explorer lists the root types.
    await page.click('[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer >> text=Mutation');
  });

  it('runs the first example, with its variables, as an anonymous device', async () => {
    expect(await page.textContent('.graphiql-editor-tool .graphiql-editor')).toContain('"deviceId": "explorer-device-1"');
    await run();
    expect(await response('"activeEncryptionKey"')).toContain('"activeEncryptionKey": null');
  });

  it('sends the API key field as Authorization: an ops example runs with an ops key, is refused without', async () => {
    await page.click('.graphiql-tab >> nth=4');
    await page.waitForFunction(() => document.querySelector('.graphiql-query-editor')?.textContent?.includes('encryptionMetricsSummary'));
    await page.waitForTimeout(500); // GraphiQL takes the new tab's operation name 100 ms after the editor changes
    await run();
    expect(await response('UNAUTHENTICATED')).toContain('"code": "UNAUTHENTICATED"');

    await page.fill('#api-key', t.as('ops').authorization.replace(/^Bearer /, ''));
    await run();
    expect(await response('"totals"')).toMatch(/"totals": \{\s*"total": \d+/);
  });

  it('needed no other origin, and logged no error', () => {
    expect(browser.foreign).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('ran in a browser without network: a page cannot reach another host', async () => {
    const outcome = await page.evaluate(() => fetch('http://example.com/').then(() => 'reached', (error: Error) => error.message));
    expect(outcome).toBe('Failed to fetch');
  });
});
