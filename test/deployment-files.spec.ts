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

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, any> };

  it('runs PostgreSQL with a health check and the service after it is healthy', () => {
    const { postgres, kms } = compose.services;
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(kms.build).toBe('.');
    expect(kms.depends_on.postgres.condition).toBe('service_healthy');
    expect(kms.environment.DATABASE_URL).toMatch(/^postgresql:\/\/kms:.*@postgres:5432\/kms$/);
    expect(kms.environment.NODE_ENV).toBe('production');
    expect(kms.healthcheck.test.join(' ')).toContain('/health/ready');
  });

  it('asks for the production secrets rather than shipping defaults', () => {
    const { kms } = compose.services;
    expect(kms.environment.KMS_MASTER_KEYS).toMatch(/^\$\{KMS_MASTER_KEYS:\?/);
    expect(kms.environment.AUTH_PEPPER).toMatch(/^\$\{AUTH_PEPPER:\?/);
  });
});
