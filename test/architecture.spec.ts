import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** dependency-cruiser with the project's rules over `<dir>/src`; its violations. */
async function cruise(dir: string): Promise<Violation[]> {
  const { stdout } = await promisify(execFile)(
    join(ROOT, 'node_modules/.bin/depcruise'),
    ['src', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'],
    { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
  ).catch((failure: { stdout?: string }) => ({ stdout: failure.stdout ?? '' }));
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('the import rules (.dependency-cruiser.cjs, also run by npm run lint)', () => {
  it('hold for src/', async () => {
    expect(await cruise(ROOT)).toEqual([]);
  });

  it('fail on a planted upward import, a reach into internals, a stray Prisma client and a cycle', async () => {
    // A copy inside the repository, so that packages resolve as they do for src/.
    const copy = mkdtempSync(join(ROOT, '.architecture-check-'));
    try {
      cpSync(join(ROOT, 'src'), join(copy, 'src'), { recursive: true });
      cpSync(join(ROOT, 'tsconfig.json'), join(copy, 'tsconfig.json'));
      const plant = (file: string, line: string) => {
        const path = join(copy, 'src', file);
        writeFileSync(path, `${line}\n${readFileSync(path, 'utf8')}`);
      };
      plant('common/clock.ts', "import { KeysService } from '../keys';");
      plant('encryption/encryption.service.ts', "import { KeysRepository } from '../keys/keys.repository';");
      plant('metrics/metrics-summary.service.ts', "import { PrismaClient } from '../generated/prisma/client';");
      plant('telemetry/operations.ts', "import { MetricsRecorder } from './metrics.recorder';");

      const found = (await cruise(copy)).map((violation) => `${violation.rule.name}: ${violation.from} -> ${violation.to}`);
      expect(found).toEqual(
        expect.arrayContaining([
          'layers: common: src/common/clock.ts -> src/keys/index.ts',
          'public surface: src/encryption/encryption.service.ts -> src/keys/keys.repository.ts',
          'generated client: src/metrics/metrics-summary.service.ts -> src/generated/prisma/client.ts',
          expect.stringMatching(/^no cycles: src\/telemetry\//),
        ]),
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

/** Each table and the one module that may read or write it. */
const OWNERS: Record<string, { module: string; accessor: string }> = {
  ClientEncryptionKey: { module: 'keys', accessor: 'clientEncryptionKey' },
  KeyGeneration: { module: 'keys', accessor: 'keyGeneration' },
  CallerKeyGeneration: { module: 'keys', accessor: 'callerKeyGeneration' },
  KeyPoolPair: { module: 'keys', accessor: 'keyPoolPair' },
  EncryptionMetric: { module: 'telemetry', accessor: 'encryptionMetric' },
  MetricRollup: { module: 'telemetry', accessor: 'metricRollup' },
  MetricDeviceRollup: { module: 'telemetry', accessor: 'metricDeviceRollup' },
  MetricDeviceSketch: { module: 'telemetry', accessor: 'metricDeviceSketch' },
  MetricKeyRollup: { module: 'telemetry', accessor: 'metricKeyRollup' },
  MetricRollupDirty: { module: 'telemetry', accessor: 'metricRollupDirty' },
  MetricRollupBuild: { module: 'telemetry', accessor: 'metricRollupBuild' },
  UserCredential: { module: 'auth', accessor: 'userCredential' },
  ConsumedCiphertext: { module: 'auth', accessor: 'consumedCiphertext' },
  ApiKey: { module: 'access-control', accessor: 'apiKey' },
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.(repo-)?spec\.ts$/.test(entry.name) ? [path] : [];
  });
}

describe('table ownership', () => {
  const files = sourceFiles(join(ROOT, 'src')).map((path) => ({
    path: relative(join(ROOT, 'src'), path),
    text: readFileSync(path, 'utf8'),
  }));

  it('names an owner for every table of the schema', () => {
    const models = [...readFileSync(join(ROOT, 'prisma/schema.prisma'), 'utf8').matchAll(/^model (\w+) \{/gm)].map((match) => match[1]);
    expect(models.sort()).toEqual(Object.keys(OWNERS).sort());
  });

  it.each(Object.entries(OWNERS))('%s is queried from its owning module only', (table, { module, accessor }) => {
    const uses = new RegExp(`\\b(prisma|tx|db)\\.${accessor}\\b|["'\`]${table}["'\`]`);
    const users = files.filter((file) => uses.test(file.text)).map((file) => file.path);
    expect(users.length).toBeGreaterThan(0);
    expect(users.filter((path) => !path.startsWith(`${module}/`))).toEqual([]);
  });
});
