import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decrypt, errorCode, generateKey, newDeviceId } from '../support/operations';
import { rememberSecret } from '../support/secrets-ledger';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * clients/java/KmsOaep.java (the Android / JCA code of the README, Clients), compiled and
 * run against a key of the real service; and the classic pitfall, the same program
 * without its OAEPParameterSpec, which the service cannot decrypt.
 */
const SOURCE = join(__dirname, '../../clients/java/KmsOaep.java');
const INIT_WITH_SPEC = 'cipher.init(Cipher.ENCRYPT_MODE, kmsKey, sha256);';
const INIT_WITHOUT_SPEC = 'cipher.init(Cipher.ENCRYPT_MODE, kmsKey);';
const RSA_2048_BASE64 = /^[A-Za-z0-9+/]{342}==$/;

const hasJdk = ['javac', 'java'].every((command) => spawnSync(command, ['-version'], { stdio: 'ignore' }).status === 0);
if (!hasJdk) {
  // eslint-disable-next-line no-console
  console.warn('java-interop: SKIPPED, no JDK (javac and java are not both on PATH)');
}
const describeWithJdk = hasJdk ? describe : describe.skip;

/** Runs a command with `input` on stdin; its stdout, or a rejection with its stderr. */
function run(command: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

describeWithJdk(`Java (JCA / Android) interop${hasJdk ? '' : ' (skipped: no JDK)'}`, () => {
  let t: TestApp;
  let dir: string;
  const classesDir = () => join(dir, 'right');
  const pitfallDir = () => join(dir, 'pitfall');
  /** The program's base64 output for `plaintext` under the PEM in `pemFile`. */
  const javaEncrypt = (classes: string, pemFile: string, plaintext: string) =>
    run('java', ['-cp', classes, 'KmsOaep', pemFile], plaintext);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kms-java-'));
    const source = await readFile(SOURCE, 'utf8');
    expect(source.split(INIT_WITH_SPEC)).toHaveLength(2); // exactly one place to take the spec out of
    const pitfall = source.replace(INIT_WITH_SPEC, INIT_WITHOUT_SPEC);
    await writeFile(join(dir, 'KmsOaep.java'), pitfall);
    const [app] = await Promise.all([
      startTestApp(),
      run('javac', ['-d', classesDir(), SOURCE]),
      run('javac', ['-d', pitfallDir(), join(dir, 'KmsOaep.java')]),
    ]);
    t = app;
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const serviceKeyFile = async () => {
    const key = await generateKey(t, newDeviceId('java'), 'android-1.0');
    const pemFile = join(dir, `${key.keyId}.pem`);
    await writeFile(pemFile, key.publicKey);
    return { keyId: key.keyId, pemFile };
  };

  it('encrypts with OAEPParameterSpec(SHA-256, MGF1-SHA-256) what decryptData returns as the plaintext', async () => {
    const { keyId, pemFile } = await serviceKeyFile();
    const plaintext = 'jävä-passcode-✓-4711';
    rememberSecret(plaintext);
    const encryptedData = await javaEncrypt(classesDir(), pemFile, plaintext);
    expect(encryptedData).toMatch(RSA_2048_BASE64);
    expect((await decrypt(t, { keyId, encryptedData })).data?.decryptData).toEqual({ keyId, data: plaintext });
  });

  it('without the spec (MGF1 defaults to SHA-1), the same program gets DECRYPTION_FAILED', async () => {
    const { keyId, pemFile } = await serviceKeyFile();
    const encryptedData = await javaEncrypt(pitfallDir(), pemFile, 'pitfall-passcode-1');
    expect(encryptedData).toMatch(RSA_2048_BASE64); // a well-formed RSA-2048 ciphertext, just the wrong padding
    expect(errorCode(await decrypt(t, { keyId, encryptedData }))).toBe('DECRYPTION_FAILED');
  });

  it('the pitfall is exactly MGF1-SHA-1: openssl decrypts it with rsa_mgf1_md:sha1 and not with sha256', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pemFile = join(dir, 'local.pem');
    const keyFile = join(dir, 'local-private.pem');
    const cipherFile = join(dir, 'pitfall.bin');
    await writeFile(pemFile, publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(cipherFile, Buffer.from(await javaEncrypt(pitfallDir(), pemFile, 'pitfall-check'), 'base64'));
    const opensslDecrypt = (mgf1: string) =>
      run('openssl', [
        'pkeyutl', '-decrypt', '-inkey', keyFile, '-in', cipherFile,
        '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', `rsa_mgf1_md:${mgf1}`,
      ]);
    expect(await opensslDecrypt('sha1')).toBe('pitfall-check');
    await expect(opensslDecrypt('sha256')).rejects.toThrow(/exited 1/);
  });
});
