import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it), driven by
 * playwright-core, which downloads no browser of its own. CHROMIUM_PATH points elsewhere.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** As root and with no network: no sandbox, GPU, QUIC, first-run or background traffic. */
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The discard port: nothing listens there, so a proxy on it refuses every connection. */
const NO_PROXY_PORT = 9;

const inCi = () => Boolean(process.env.CI) && process.env.CI !== 'false';

/**
 * describe() for suites that need Chromium. Without it they fail in CI (which installs
 * it), and are skipped with a message on stderr when run by hand.
 */
export function describeInBrowser(name: string, suite: () => void): void {
  if (existsSync(CHROMIUM_PATH)) {
    describe(name, suite);
  } else if (inCi()) {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`No Chromium at ${CHROMIUM_PATH}: CI must install it (apt-get install -y chromium)`);
      });
    });
  } else {
    process.stderr.write(
      `\nSKIPPED "${name}": no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)\n\n`,
    );
    describe.skip(name, suite);
  }
}

export interface Browser {
  context: BrowserContext;
  /** Requests the pages made to any other origin than those expected (none can succeed: see launchChromium). */
  foreign: string[];
  /**
   * Uncaught page errors and console errors of every page, except Chromium's own line for
   * each HTTP error status (tests assert on statuses where they matter).
   */
  errors: string[];
  /** Every response body the pages received, as text (to look for what must never reach them). */
  received: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Chromium with a new empty profile and no network beyond this machine: every request
 * to another host goes to a proxy that does not exist (loopback addresses bypass proxies).
 * Requests are observed, not intercepted: Playwright's interception would answer CORS
 * preflights itself, and the browser's own CORS checks are part of what is tested.
 */
export async function launchChromium(expectedOrigins: string[]): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'kms-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: [...LAUNCH_ARGS, `--proxy-server=http://127.0.0.1:${NO_PROXY_PORT}`],
    headless: true,
  });
  const foreign: string[] = [];
  const errors: string[] = [];
  const received: string[] = [];
  context.on('request', (request) => {
    const url = request.url();
    if (/^(https?|wss?):/.test(url) && !expectedOrigins.some((origin) => url.startsWith(`${origin}/`))) foreign.push(url);
  });
  context.on('response', (response) => {
    response.text().then(
      (text) => received.push(text),
      () => undefined, // a preflight or a redirect has no body
    );
  });
  const watch = (page: Page) => {
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      const text = message.text();
      if (message.type() === 'error' && !text.startsWith('Failed to load resource: the server responded with a status of')) {
        errors.push(`console: ${text}`);
      }
    });
  };
  context.on('page', watch);
  return {
    context,
    foreign,
    errors,
    received,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
