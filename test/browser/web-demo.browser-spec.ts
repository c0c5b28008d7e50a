import type { Page } from 'playwright-core';
import { describeInBrowser, launchChromium, type Browser } from '../support/browser';
import { startDemoBackend, type DemoBackend } from '../support/demo-backend';
import { REVOKE_KEY } from '../support/key-rotation';
import { decrypt } from '../support/operations';
import { rememberSecret } from '../support/secrets-ledger';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * The demo page (/demo) in Chromium, with the example backend (examples/web-demo/backend.mjs)
 * holding the service key: the whole device flow as a user clicks it. The suite's steps
 * run in order on one device and one user.
 */
const RIGHT = 'correct-horse-31';
const WRONG = 'wrong-horse-31';
rememberSecret(RIGHT); // the run's log scan looks for them
rememberSecret(WRONG);

describeInBrowser('device demo page in Chromium', () => {
  let t: TestApp;
  let backend: DemoBackend;
  let browser: Browser;
  let page: Page;
  let serviceKey: string;

  beforeAll(async () => {
    t = await startTestApp({
      env: { AUTH_MAX_ATTEMPTS: '3', MAX_KEY_GEN_PER_DEVICE: '2', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' },
    });
    serviceKey = t.as('service').authorization.replace(/^Bearer /, '');
    backend = await startDemoBackend({ KMS_URL: `${t.baseUrl}/graphql`, KMS_SERVICE_KEY: serviceKey, PAGE_ORIGINS: t.baseUrl });
    browser = await launchChromium([t.baseUrl, backend.url]);
    page = await browser.newPage();
    await page.goto(`${t.baseUrl}/demo?backend=${encodeURIComponent(backend.url)}`);
  });
  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await t?.close();
  });

  /** Clicks a button and waits until the page has finished that action. */
  const click = async (button: string) => {
    const done = Number(await page.getAttribute('body', 'data-actions'));
    await page.click(`#${button}`);
    await page.waitForFunction((before) => Number(document.body.dataset.actions) > before, done);
  };
  const text = (id: string) => page.textContent(`#${id}`) as Promise<string>;
  const result = async () => ({ outcome: await page.getAttribute('#result', 'data-outcome'), text: await text('result') });
  const logSince = async (mark: number) => (await page.$$eval('#log li', (items) => items.map((item) => item.textContent!))).slice(mark);
  const logMark = () => page.$$eval('#log li', (items) => items.length);
  const deviceKeys = async () =>
    (await t.prisma.clientEncryptionKey.findMany({ where: { deviceId: await text('device-id') }, orderBy: { createdAt: 'asc' } })).map(
      (row) => row.id,
    );
  const verify = async (passcode: string) => {
    await page.fill('#passcode', passcode);
    await click('verify-passcode');
    return result();
  };

  it('gets the device key once: a reload, even with the stored key gone, finds it again without a generation', async () => {
    let mark = await logMark();
    await click('get-key');
    const keyId = await text('key-id');
    expect(await deviceKeys()).toEqual([keyId]);
    expect((await logSince(mark)).filter((line) => line.includes('KMS ←'))).toEqual([
      expect.stringContaining('KMS ← ActiveEncryptionKey'),
      expect.stringContaining('KMS ← GenerateEncryptionKey'),
    ]);

    await page.reload();
    mark = await logMark();
    await click('get-key');
    expect(await text('key-id')).toBe(keyId);
    expect(await logSince(mark)).toEqual([expect.stringContaining(`device key ${keyId}`)]); // from localStorage

    // A new browser profile for the same device: the library asks before it generates.
    await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('kms-client:')).forEach((k) => localStorage.removeItem(k)));
    await page.reload();
    await click('get-key');
    expect(await text('key-id')).toBe(keyId);
    expect((await logSince(0)).filter((line) => line.includes('KMS ←'))).toEqual([expect.stringContaining('KMS ← ActiveEncryptionKey')]);
    expect(await deviceKeys()).toEqual([keyId]);
  });

  it('sets the passcode through the backend, then verifies it: right, then wrong', async () => {
    await page.fill('#passcode', RIGHT);
    await click('set-passcode');
    expect(await result()).toEqual({ outcome: 'set', text: 'Passcode set' });
    expect(await verify(RIGHT)).toEqual({ outcome: 'valid', text: 'Passcode valid (3 attempts before a lock-out)' });
    expect(await verify(WRONG)).toEqual({ outcome: 'invalid', text: 'Wrong passcode: 2 attempts left' });
  });

  it('encrypts data as JWE that the backend can decrypt', async () => {
    const data = '{"iban":"DE89370400440532013000"}';
    rememberSecret(data);
    await page.fill('#data', data);
    await click('encrypt-data');
    const [header, jwe] = (await text('jwe')).split('\n');
    expect(JSON.parse(header)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: await text('key-id') });
    expect((await decrypt(t, { encryptedData: jwe })).data?.decryptData).toEqual({ keyId: await text('key-id'), data });
  });

  it('when the key expires (31 days later on both clocks) asks the KMS, which has none active, and generates', async () => {
    const expired = await text('key-id');
    t.clock.advanceDays(31); // the service's clock
    await page.clock.setFixedTime(t.clock.now()); // the browser's: the stored key's expiresAt has passed
    await page.reload();
    const mark = await logMark();
    expect(await verify(RIGHT)).toMatchObject({ outcome: 'valid' });
    const replacement = await text('key-id');
    expect(replacement).not.toBe(expired);
    expect(await deviceKeys()).toEqual([expired, replacement]);
    expect(Date.parse(await text('key-expires'))).toBeGreaterThan(t.clock.now().getTime());
    expect((await logSince(mark)).filter((line) => line.includes('KMS ←') || line.includes('backend'))).toEqual([
      expect.stringContaining('KMS ← ActiveEncryptionKey'),
      expect.stringContaining('KMS ← GenerateEncryptionKey'),
      expect.stringContaining('backend /passcode/verify: {"valid":true'),
    ]);
  });

  it('on KEY_REVOKED from the backend (an operator revoked the key) takes another key and sends again', async () => {
    const revoked = await text('key-id');
    const revocation = await t.gql(REVOKE_KEY, { keyId: revoked, reason: 'demo test' }, t.as('admin'));
    expect(revocation.errors).toBeUndefined();
    const mark = await logMark();
    expect(await verify(RIGHT)).toMatchObject({ outcome: 'valid' });
    expect(await text('key-id')).not.toBe(revoked);
    expect(await logSince(mark)).toEqual(
      expect.arrayContaining([expect.stringContaining(`key ${revoked} is KEY_REVOKED: taking another key`)]),
    );
  });

  it('locks the user out after 3 wrong passcodes; then even the right one is refused', async () => {
    expect(await verify(WRONG)).toEqual({ outcome: 'invalid', text: 'Wrong passcode: 2 attempts left' });
    expect(await verify(WRONG)).toEqual({ outcome: 'invalid', text: 'Wrong passcode: 1 attempts left' });
    const locked = await verify(WRONG);
    expect(locked).toEqual({ outcome: 'locked', text: expect.stringMatching(/^Wrong passcode: locked until \d{4}-/) });
    expect(await verify(RIGHT)).toEqual({ outcome: 'locked', text: expect.stringMatching(/^Locked until \d{4}-/) });
  });

  it('after its 2nd key in 24 hours, a revoked key leaves the device RATE_LIMITED, and it waits retryAfterSeconds', async () => {
    expect(await deviceKeys()).toHaveLength(3); // the first one 31 days ago
    await t.gql(REVOKE_KEY, { keyId: await text('key-id'), reason: 'demo test' }, t.as('admin'));
    const refused = await verify(RIGHT);
    expect(refused).toEqual({ outcome: 'RATE_LIMITED', text: expect.stringMatching(/^RATE_LIMITED: .*\(retry in \d+ s\)$/) });

    const mark = await logMark();
    expect(await verify(RIGHT)).toMatchObject({ outcome: 'RATE_LIMITED' });
    expect((await logSince(mark)).filter((line) => line.includes('KMS ←'))).toEqual([]); // not even asked
    expect(await deviceKeys()).toHaveLength(3);
  });

  it('never lets the page see the service key, and the backend logs no secret', () => {
    expect(browser.received.length).toBeGreaterThan(10);
    expect(browser.received.filter((body) => body.includes(serviceKey))).toEqual([]);
    for (const secret of [serviceKey, RIGHT, WRONG]) expect(backend.output()).not.toContain(secret);
    expect(backend.output()).toMatch(/^POST \/passcode\/verify 200 ok$/m);
  });

  it('needed no other origin, and the page logged no error', () => {
    expect(browser.foreign).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
