import { migrationNames } from '../../src/database';
import { startTestApp, TestApp } from '../support/test-app';

describe('GET /health and /health/ready', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const get = async (path: string) => {
    const response = await fetch(`${t.baseUrl}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it('is live and ready on a migrated database', async () => {
    expect(await get('/health')).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok' }) });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info).toEqual({ database: { status: 'up' }, migrations: { status: 'up' } });
  });

  it('is not ready while a migration of this build is missing from the database', async () => {
    const [latest] = (await migrationNames()).slice(-1);
    await t.prisma.$executeRaw`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = ${latest}`;
    try {
      const ready = await get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error).toEqual({ migrations: { status: 'down', pending: [latest] } });
      expect((await get('/health')).status).toBe(200);
    } finally {
      await t.prisma.$executeRaw`UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = ${latest}`;
    }
    expect((await get('/health/ready')).status).toBe(200);
  });

  it('is not ready, and says nothing about hosts or users, when the database is gone', async () => {
    const alone = await startTestApp();
    try {
      await alone.database.drop();
      const response = await fetch(`${alone.baseUrl}/health/ready`);
      const text = await response.text();
      expect(response.status).toBe(503);
      expect(JSON.parse(text).error.database).toEqual({ status: 'down', message: 'database unreachable' });
      expect(text).not.toMatch(/127\.0\.0\.1|postgres|kms_t_/);
      expect((await fetch(`${alone.baseUrl}/health`)).status).toBe(200);
    } finally {
      await alone.app.close();
    }
  });
});
