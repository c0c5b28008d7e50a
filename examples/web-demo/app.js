// The device side of the demo, with the web client library (clients/web) as a browser
// module: this is what a web app does. Plain JavaScript, no build step.
import { KmsClient, KmsClientError, webStorage } from './lib/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// WebCrypto (and crypto.randomUUID) exist in secure contexts only: HTTPS, or localhost.
if (!window.isSecureContext || !globalThis.crypto?.subtle) {
  $('insecure').hidden = false;
  document.querySelectorAll('button').forEach((button) => (button.disabled = true));
  throw new Error('WebCrypto is unavailable: serve the page over HTTPS or from localhost');
}

// A stable id for this browser: a random UUID kept in localStorage.
let deviceId = localStorage.getItem('kms-demo-device-id');
if (!deviceId) {
  deviceId = crypto.randomUUID();
  localStorage.setItem('kms-demo-device-id', deviceId);
}
$('device-id').textContent = deviceId;
$('user-id').value = `user-${deviceId.slice(0, 8)}`;
$('backend').value = params.get('backend') ?? 'http://localhost:3001';

const kms = new KmsClient({
  endpoint: new URL('/graphql', location.origin).href,
  deviceId,
  appVersion: 'web-demo',
  // No apiKey: outside production the KMS lets devices in anonymously (a `client` key
  // otherwise, never a `service` one). localStorage keeps only the public key and its expiry.
  storage: webStorage(localStorage),
  // Only to show each KMS request the library makes; the default is the global fetch.
  fetch: (url, init) => {
    const [, operation] = /^(?:query|mutation) (\w+)/.exec(JSON.parse(init.body).query) ?? [];
    log('kms', `KMS ← ${operation}`);
    return fetch(url, init);
  },
});

function log(kind, text) {
  const item = document.createElement('li');
  item.dataset.kind = kind;
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').append(item);
}

function showKey(key) {
  $('key-id').textContent = key.keyId;
  $('key-expires').textContent = key.expiresAt ?? 'never';
}

function showResult(outcome, text) {
  $('result').dataset.outcome = outcome;
  $('result').className = outcome.toUpperCase() === outcome ? 'error' : '';
  $('result').textContent = text;
}

/** The app's backend: never the KMS directly for a passcode (it needs the service key). */
async function backend(path, body) {
  try {
    const response = await fetch(new URL(path, $('backend').value), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return await response.json();
  } catch {
    return { error: { code: 'NETWORK_ERROR', message: `no backend at ${$('backend').value}: is examples/web-demo/backend.mjs running?` } };
  }
}

/**
 * Encrypts the passcode with the device's key and sends it to the backend. When the KMS
 * says the key is expired, revoked or gone, the library drops it, and the passcode is
 * encrypted again with the next key (the KMS's active one, or a new one) and sent once more.
 */
async function sendPasscode(path) {
  const passcode = $('passcode').value;
  for (let attempt = 1; ; attempt += 1) {
    const { keyId, encryptedData } = await kms.encryptSecret(passcode);
    showKey(await kms.getKey());
    log('encrypt', `passcode encrypted with key ${keyId} (RSA-OAEP-SHA256, ${encryptedData.length} base64 characters)`);
    const answer = await backend(path, { userId: $('user-id').value, keyId, encryptedPasscode: encryptedData });
    log('backend', `backend ${path}: ${answer.error ? answer.error.code : JSON.stringify(answer.result)}`);
    if (attempt === 1 && answer.error && (await kms.handleKmsError(answer.error.code, keyId))) {
      log('retry', `key ${keyId} is ${answer.error.code}: taking another key and sending again`);
      continue;
    }
    return answer;
  }
}

function showAnswer(answer) {
  const { error, result } = answer;
  if (error?.code === 'CREDENTIAL_LOCKED') return showResult('locked', `Locked until ${error.lockedUntil ?? 'later'}`);
  if (error) return showResult(error.code, `${error.code}: ${error.message}`);
  if (result === true) return showResult('set', 'Passcode set');
  if (result.valid) return showResult('valid', `Passcode valid (${result.remainingAttempts} attempts before a lock-out)`);
  if (result.lockedUntil) return showResult('locked', `Wrong passcode: locked until ${result.lockedUntil}`);
  return showResult('invalid', `Wrong passcode: ${result.remainingAttempts} attempts left`);
}

/** Runs one button's work; counts finished actions on <body data-actions> (the browser test waits on it). */
function action(id, work) {
  $(id).addEventListener('click', async () => {
    const buttons = [...document.querySelectorAll('button')];
    buttons.forEach((button) => (button.disabled = true));
    try {
      await work();
    } catch (error) {
      if (!(error instanceof KmsClientError)) throw error;
      const wait = error.retryAfterSeconds && !/retry in/.test(error.message) ? ` (retry in ${error.retryAfterSeconds} s)` : '';
      log('error', `${error.code}: ${error.message}${wait}`);
      showResult(error.code, `${error.code}: ${error.message}${wait}`);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
      document.body.dataset.actions = String(Number(document.body.dataset.actions) + 1);
    }
  });
}

action('get-key', async () => {
  const key = await kms.getKey();
  showKey(key);
  log('key', `device key ${key.keyId}, expires ${key.expiresAt}`);
});
action('set-passcode', async () => showAnswer(await sendPasscode('/passcode/set')));
action('verify-passcode', async () => showAnswer(await sendPasscode('/passcode/verify')));
action('encrypt-data', async () => {
  const { keyId, encryptedData } = await kms.encryptData($('data').value);
  const header = JSON.parse(atob(encryptedData.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')));
  $('jwe').textContent = `${JSON.stringify(header)}\n${encryptedData}`;
  log('encrypt', `data encrypted as JWE with key ${keyId}: the backend passes it to decryptData`);
});
