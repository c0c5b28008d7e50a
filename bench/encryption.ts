/**
 * Throughput of decryptData over HTTP with a few concurrent clients, and latency
 * of generateEncryptionKey, against the real service (child process, embedded
 * PostgreSQL). Also the raw RSA-OAEP decrypt rate of this machine in the same
 * run, so the HTTP figure can be read as a ratio. Prints figures; asserts nothing.
 *
 *   npm run bench:encryption [-- --seconds 10]
 */
import { webcrypto } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { encryptWithJose, encryptWithWebCrypto } from '../test/support/clients';
import { GENERATE_KEY, DECRYPT_DATA } from '../test/support/operations';
import { ms, percentile, startBenchService } from './support';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);

async function main() {
  const service = await startBenchService();
  try {
    const serviceKey = await service.createKey(['service']);

    // generateEncryptionKey: sequential, then 4 at a time.
    const sequential: number[] = [];
    for (let i = 0; i < 40; i += 1) {
      const started = performance.now();
      await service.gql(GENERATE_KEY, { input: { deviceId: `bench-seq-${i}` } });
      sequential.push(performance.now() - started);
    }
    sequential.sort((a, b) => a - b);
    const concurrent: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const started = performance.now();
          await service.gql(GENERATE_KEY, { input: { deviceId: `bench-par-${round}-${i}` } });
          concurrent.push(performance.now() - started);
        }),
      );
    }
    concurrent.sort((a, b) => a - b);
    console.log(`generateEncryptionKey, 40 sequential: p50 ${ms(percentile(sequential, 50))}, p99 ${ms(percentile(sequential, 99))}, max ${ms(sequential.at(-1)!)}`);
    console.log(`generateEncryptionKey, 4 concurrent x 10: p50 ${ms(percentile(concurrent, 50))}, p99 ${ms(percentile(concurrent, 99))}`);

    // decryptData: 8 keys, raw and JWE ciphertexts, C clients in closed loops.
    const keys = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => (await service.gql(GENERATE_KEY, { input: { deviceId: `bench-dec-${i}` } })).generateEncryptionKey),
    );
    const inputs = await Promise.all(
      keys.flatMap((key: any) => [
        encryptWithWebCrypto(key.publicKey, 'bench secret 123456').then((encryptedData) => ({ keyId: key.keyId, encryptedData })),
        encryptWithJose(key.publicKeyJwk, 'bench secret 123456').then((encryptedData) => ({ encryptedData })),
      ]),
    );
    // The same loop on `{ __typename }`: what HTTP + GraphQL alone cost, for the ratio.
    const load = async (label: string, clients: number, request: (i: number) => Promise<unknown>) => {
      const latencies: number[] = [];
      const deadline = performance.now() + SECONDS * 1000;
      let errors = 0;
      await Promise.all(
        Array.from({ length: clients }, async (_, client) => {
          for (let i = client; performance.now() < deadline; i += 1) {
            const started = performance.now();
            await request(i).catch(() => (errors += 1));
            latencies.push(performance.now() - started);
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      console.log(
        `${label}, ${String(clients).padStart(2)} clients: ${(latencies.length / SECONDS).toFixed(0)} req/s, ` +
          `p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, errors ${errors}`,
      );
    };
    for (const clients of [1, 4, 16]) {
      await load('{ __typename } over HTTP', clients, () => service.gql('{ __typename }', {}));
      await load('decryptData over HTTP   ', clients, (i) => service.gql(DECRYPT_DATA, { input: inputs[i % inputs.length] }, serviceKey));
    }
  } finally {
    await service.stop();
  }

  // The same machine's raw RSA-2048 OAEP-SHA256 private-key rate, for the ratio.
  const pair = await webcrypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    false,
    ['encrypt', 'decrypt'],
  );
  const ciphertext = await webcrypto.subtle.encrypt({ name: 'RSA-OAEP' }, pair.publicKey, new TextEncoder().encode('x'));
  const started = performance.now();
  let done = 0;
  while (performance.now() - started < 3000) {
    await Promise.all(Array.from({ length: 16 }, () => webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, pair.privateKey, ciphertext)));
    done += 16;
  }
  console.log(`raw RSA-OAEP decrypt in this process (WebCrypto, 16 in flight): ${(done / ((performance.now() - started) / 1000)).toFixed(0)} /s`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
