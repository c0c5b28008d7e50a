import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** No Docker engine runs here: check what can be checked without one. */
const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('is multi-stage and runs as a non-root user', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    const runtime = instructions.slice(instructions.map((l) => l.startsWith('FROM ')).lastIndexOf(true));
    const user = runtime.find((line) => line.startsWith('USER '));
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER (root|0)\b/);
    expect(runtime.indexOf(user!)).toBeLessThan(runtime.findIndex((line) => line.startsWith('CMD ')));
  });

  it('starts the service with the command the README gives (npm start)', () => {
    const cmd = JSON.parse(instructions.find((line) => line.startsWith('CMD '))!.slice(4)) as string[];
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(cmd.join(' ')).toBe(pkg.scripts.start);
    expect(read('README.md')).toContain('npm start');
    expect(instructions.some((line) => line.startsWith('HEALTHCHECK ') && line.includes('/health/ready'))).toBe(true);
  });
});

type Compose = { services: Record<string, any>; volumes?: Record<string, unknown> };

/** Compose's merge of an override file: mappings merge key by key, anything else is replaced. */
function merge(base: unknown, override: unknown): unknown {
  if (!isMapping(base) || !isMapping(override)) return override === undefined ? base : override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = merge(base[key], value);
  return merged;
}
const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every leaf path where two configurations differ. */
function differences(a: unknown, b: unknown, path = ''): string[] {
  if (isMapping(a) && isMapping(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((key) => differences(a[key], b[key], `${path}.${key}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path.slice(1)];
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` references of a compose file. */
const interpolations = (text: string) => [...text.matchAll(/\$\{(\w+)(:?[-?])?([^}]*)\}/g)].map(([, name, kind]) => ({ name, kind }));

describe('docker-compose.yml (local development) and docker-compose.prod.yml (production)', () => {
  const developmentText = read('docker-compose.yml');
  const development = parse(developmentText) as Compose;
  const productionText = read('docker-compose.prod.yml');
  const production = merge(development, parse(productionText)) as Compose;

  it('runs PostgreSQL with a health check and the service after it is healthy, started by the image command', () => {
    const { postgres, kms } = development.services;
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(kms.build).toBe('.');
    expect(kms.depends_on.postgres.condition).toBe('service_healthy');
    expect(kms.environment.DATABASE_URL).toMatch(/^postgresql:\/\/kms:.*@postgres:5432\/kms$/);
    expect(kms.healthcheck.test.join(' ')).toContain('/health/ready');
    // No command of its own: the image's CMD, which is the README's `npm start` (checked above).
    expect(kms.command).toBeUndefined();
    expect(kms.entrypoint).toBeUndefined();
  });

  it('starts with no variables: development mode, every variable has a default, secrets generated into a volume', () => {
    expect(interpolations(developmentText).filter(({ kind }) => kind !== ':-')).toEqual([]);
    const { kms } = development.services;
    expect(kms.environment.NODE_ENV).toBe('development');
    expect(kms.environment.KMS_MASTER_KEYS).toBeUndefined();
    expect(kms.environment.AUTH_PEPPER).toBeUndefined();
    const [volume, mountPoint] = (kms.volumes as string[])[0].split(':');
    expect(mountPoint).toBe(kms.environment.DATA_DIR);
    expect(Object.keys(development.volumes ?? {})).toContain(volume);
    // The image makes that directory the node user's, so that the volume is writable.
    expect(read('Dockerfile')).toMatch(new RegExp(`mkdir ${mountPoint} && chown node:node ${mountPoint}`));
  });

  it('differs in production only by production mode and the secrets it requires', () => {
    expect(differences(development, production).sort()).toEqual(
      [
        'services.kms.environment.AUTH_PEPPER',
        'services.kms.environment.KMS_BOOTSTRAP_ADMIN_KEY',
        'services.kms.environment.KMS_MASTER_KEYS',
        'services.kms.environment.NODE_ENV',
        'services.postgres.environment.POSTGRES_PASSWORD',
      ].sort(),
    );
    const { kms, postgres } = production.services;
    expect(kms.environment.NODE_ENV).toBe('production');
    for (const secret of [kms.environment.KMS_MASTER_KEYS, kms.environment.AUTH_PEPPER, postgres.environment.POSTGRES_PASSWORD]) {
      expect(secret).toMatch(/^\$\{\w+:\?/); // compose refuses to start without it
    }
    expect(interpolations(productionText).filter(({ kind }) => kind === ':?').map(({ name }) => name).sort()).toEqual(
      ['AUTH_PEPPER', 'KMS_MASTER_KEYS', 'POSTGRES_PASSWORD'],
    );
  });

  it('are what the README tells to run', () => {
    const readme = read('README.md');
    expect(readme).toContain('docker compose up');
    expect(readme).toContain('docker compose -f docker-compose.yml -f docker-compose.prod.yml up -d');
  });
});
