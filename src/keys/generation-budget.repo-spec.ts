import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { TestClock } from '../../test/support/test-clock';
import { requestContextHook } from '../common';
import { CallerGenerationsRepository } from './caller-generations.repository';
import { GenerationBudget } from './generation-budget';

/** Runs `work` as the preHandler hook would run a request from `ip` with `caller` noted by the scope guard. */
function inRequest<T>(ip: string, work: () => Promise<T>, raw: object = { caller: null }): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    requestContextHook()({ id: 'test-request', ip, raw }, undefined, () => {
      work().then(resolve, reject);
    });
  });
}

describe('GenerationBudget', () => {
  let db: RepositoryDatabase;
  let budget: GenerationBudget;
  const clock = new TestClock();
  beforeAll(async () => {
    db = await repositoryDatabase({ MAX_KEY_GEN_PER_CALLER_PER_MINUTE: '2' });
    budget = new GenerationBudget(db.config, new CallerGenerationsRepository(db.prisma), clock);
  });
  afterAll(() => db.close());
  afterEach(() => db.prisma.callerKeyGeneration.deleteMany());

  const rows = () => db.prisma.callerKeyGeneration.findMany({ select: { caller: true } });

  it('gives the place back when the generation fails, and passes the failure on', async () => {
    const failure = new Error('RSA failed');
    await expect(inRequest('192.0.2.1', () => budget.spend(() => Promise.reject(failure)))).rejects.toBe(failure);
    expect(await rows()).toEqual([]);

    await expect(inRequest('192.0.2.1', () => budget.spend(async () => 'made'))).resolves.toBe('made');
    expect(await rows()).toEqual([{ caller: 'address:192.0.2.1' }]);
  });

  it('names an API key caller by its id', async () => {
    const raw = { caller: { apiKeyId: 'key-id-1', name: 'backend', scopes: [] } };
    await inRequest('192.0.2.1', () => budget.spend(async () => 'made'), raw);
    expect(await rows()).toEqual([{ caller: 'api-key:key-id-1' }]);
  });

  it('refuses the attempt past the per-request cap without touching the database', async () => {
    const raw = { caller: null };
    const outcomes = await inRequest(
      '192.0.2.2',
      () =>
        Promise.allSettled(
          Array.from({ length: 4 }, () => budget.spend(() => Promise.reject(new Error('device limit')))),
        ),
      raw,
    );
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as Error).message : 'ok'))).toEqual([
      'device limit',
      'device limit',
      'device limit',
      'At most 3 key generations per request; send the others in later requests',
    ]);
    expect(await rows()).toEqual([]);
  });

  it('does not budget work outside an HTTP request', async () => {
    for (let n = 0; n < 5; n += 1) await budget.spend(async () => 'made');
    expect(await rows()).toEqual([]);
  });
});
