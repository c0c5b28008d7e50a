/**
 * What the security review's request does to other callers, with the key generation
 * budgets off and on: decryptData latency (one client, sequential) alone, then while
 * one anonymous request sends a batch of 5 operations x 15 aliased generateEncryptionKey
 * fields for different devices.
 *
 *   npm run -s bench:key-generation-budget
 *   BENCH_WEB_CONCURRENCY=1 npm run -s bench:key-generation-budget
 *
 * Each variant is the real service as a child process on its own embedded PostgreSQL.
 * Last line: name=value pairs (milliseconds; keys made by the attack).
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { encryptWithWebCrypto } from '../test/support/clients';
import { percentile, startBenchService } from './support';

const QUIET_SAMPLES = 200;
const WEB_CONCURRENCY = process.env.BENCH_WEB_CONCURRENCY ?? '2';

const VARIANTS: { name: string; env: Record<string, string> }[] = [
  // "Off": limits no request and no caller could reach.
  { name: 'unbudgeted', env: { MAX_KEY_GEN_PER_REQUEST: '100', MAX_KEY_GEN_PER_CALLER_PER_MINUTE: '100000' } },
  { name: 'defaults', env: {} },
];

interface Figures {
  quietP50: number;
  attackP50: number;
  attackP99: number;
  attackMs: number;
  keysMade: number;
}

async function measure(env: Record<string, string>): Promise<Figures> {
  const service = await startBenchService({ WEB_CONCURRENCY, ...env });
  try {
    const serviceKey = await service.createKey(['service']);
    const key = (
      await service.gql('mutation { generateEncryptionKey(input: { deviceId: "bench-victim" }) { keyId publicKey } }', {})
    ).generateEncryptionKey as { keyId: string; publicKey: string };
    const input = { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(key.publicKey, 'bench secret') };
    const decrypt = async () => {
      const started = performance.now();
      await service.gql('mutation D($input: DecryptDataInput!) { decryptData(input: $input) { data } }', { input }, serviceKey);
      return performance.now() - started;
    };

    const quiet: number[] = [];
    for (let i = 0; i < QUIET_SAMPLES; i += 1) quiet.push(await decrypt());

    const batch = Array.from({ length: 5 }, (_, op) => ({
      query: `mutation { ${Array.from(
        { length: 15 },
        (_, i) => `g${i}: generateEncryptionKey(input: { deviceId: "bench-attack-${op}-${i}" }) { keyId }`,
      ).join(' ')} }`,
    }));
    const attackStarted = performance.now();
    let attacking = true;
    const attack = fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    })
      .then((response) => response.json())
      .finally(() => (attacking = false));
    const during: number[] = [];
    while (attacking || during.length < 20) during.push(await decrypt());
    const answers = (await attack) as { data?: Record<string, unknown> | null }[];
    const attackMs = performance.now() - attackStarted;
    const keysMade = await countAttackKeys(service, answers);

    const sortedQuiet = quiet.sort((a, b) => a - b);
    const sortedDuring = during.sort((a, b) => a - b);
    return {
      quietP50: percentile(sortedQuiet, 50),
      attackP50: percentile(sortedDuring, 50),
      attackP99: percentile(sortedDuring, 99),
      attackMs,
      keysMade,
    };
  } finally {
    await service.stop();
  }
}

/** Keys the attack made: each of its devices asked for its active key (an operation that failed shows none of its keys). */
async function countAttackKeys(service: Awaited<ReturnType<typeof startBenchService>>, answers: unknown[]) {
  let made = 0;
  for (let op = 0; op < answers.length; op += 1) {
    for (let i = 0; i < 15; i += 1) {
      const data = await service.gql('query A($d: String!) { activeEncryptionKey(deviceId: $d) { keyId } }', {
        d: `bench-attack-${op}-${i}`,
      });
      if (data.activeEncryptionKey) made += 1;
    }
  }
  return made;
}

async function main() {
  console.log(`WEB_CONCURRENCY=${WEB_CONCURRENCY}; decryptData p50 alone (${QUIET_SAMPLES} requests), then while one request asks for 75 keys`);
  const pairs: string[] = [];
  for (const variant of VARIANTS) {
    const f = await measure(variant.env);
    console.log(
      `${variant.name.padEnd(11)} keys made ${String(f.keysMade).padStart(2)}  attack request ${f.attackMs.toFixed(0).padStart(6)} ms  ` +
        `decrypt p50 alone ${f.quietP50.toFixed(1)} ms, during ${f.attackP50.toFixed(1)} ms (p99 ${f.attackP99.toFixed(1)} ms)`,
    );
    pairs.push(
      `${variant.name}_keys=${f.keysMade}`,
      `${variant.name}_attack_ms=${f.attackMs.toFixed(0)}`,
      `${variant.name}_decrypt_p50_alone_ms=${f.quietP50.toFixed(1)}`,
      `${variant.name}_decrypt_p50_during_ms=${f.attackP50.toFixed(1)}`,
      `${variant.name}_decrypt_p99_during_ms=${f.attackP99.toFixed(1)}`,
    );
  }
  console.log(pairs.join(' '));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
