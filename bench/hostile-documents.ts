/**
 * How long the service takes to answer each hostile GraphQL document of
 * test/support/hostile-documents.ts (anonymous, as an attacker sends them), and the
 * slowest GET /health answer meanwhile: a frozen event loop shows in both.
 *
 *   npm run -s bench:hostile-documents              chains of 20, 22 and 24 levels, then every shape
 *   npm run -s bench:hostile-documents -- 30 40     chains of 30 and 40 levels
 *
 * The chains (introspectionChain) are fragments that each spread the next twice, ending in
 * `__schema`: a valid document in which no field is counted, the worst case for a rule
 * that expands fragments without remembering them.
 *
 * The service runs as a child process on an embedded PostgreSQL; each request may
 * take up to BENCH_TIMEOUT_MS (default 120000) before it is counted as timed out.
 */
import { hostileDocuments, introspectionChain, tokenCount } from '../test/support/hostile-documents';
import { startBenchService } from './support';

const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);

async function main() {
  const levels = process.argv.slice(2).map(Number).filter((level) => level > 0);
  const service = await startBenchService({ NODE_ENV: 'test' });
  const healthUrl = service.url.replace('/graphql', '/health');
  const figures: Record<string, string> = {};
  let frozen = false;
  try {
    const cases = [
      ...(levels.length ? levels : [20, 22, 24]).map((level) => ({ name: `introspection chain of ${level} levels`, query: introspectionChain(level), key: `chain${level}` })),
      ...hostileDocuments(40).map((document) => ({ ...document, key: document.name.replace(/\W+(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '') })),
    ];
    for (const { name, query, key } of cases) {
      const { ms, outcome, slowestHealthMs } = await timed(service.url, healthUrl, query);
      const bytes = Buffer.byteLength(JSON.stringify({ query }));
      process.stdout.write(
        `${name.padEnd(40)} ${String(bytes).padStart(6)} bytes ${String(tokenCount(query)).padStart(5)} tokens  ` +
          `answered in ${ms.toFixed(1).padStart(9)} ms  slowest /health ${slowestHealthMs.toFixed(1).padStart(9)} ms  ${outcome}\n`,
      );
      frozen ||= outcome.startsWith('no answer');
      figures[`${key}_ms`] = ms.toFixed(1);
      figures[`${key}_health_ms`] = slowestHealthMs.toFixed(1);
    }
  } finally {
    await (frozen ? service.kill() : service.stop());
  }
  process.stdout.write(`${Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' ')}\n`);
}

/** One request, with GET /health polled every 25 ms until it is answered. */
async function timed(url: string, healthUrl: string, query: string) {
  let done = false;
  let slowestHealthMs = 0;
  const polling = (async () => {
    while (!done) {
      const started = performance.now();
      await fetch(healthUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) }).catch(() => undefined);
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  const started = performance.now();
  let outcome: string;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const body = (await response.json()) as { errors?: { message: string }[] };
    outcome = `${response.status} ${body.errors?.[0]?.message.slice(0, 60) ?? 'data'}`;
  } catch (error) {
    outcome = `no answer (${(error as Error).name})`;
  }
  const ms = performance.now() - started;
  done = true;
  await polling;
  return { ms, outcome, slowestHealthMs };
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
