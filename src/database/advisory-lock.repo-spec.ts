import { setTimeout as sleep } from 'node:timers/promises';
import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { AdvisoryLock } from './advisory-lock';

describe('AdvisoryLock sessions', () => {
  let db: RepositoryDatabase;
  beforeAll(async () => {
    db = await repositoryDatabase({ DATABASE_CONNECT_TIMEOUT_MS: '300' });
  });
  afterAll(() => db.close());

  it('holds at most database.lockSessions connections at once; a caller beyond waits, then fails after the connect timeout', async () => {
    expect(db.config.database.lockSessions).toBe(2);
    const lock = new AdvisoryLock(db.config);
    let running = 0;
    let most = 0;
    const hold = (name: string, ms: number) =>
      lock.tryRunExclusive(name, async () => {
        running += 1;
        most = Math.max(most, running);
        await sleep(ms);
        running -= 1;
        return name;
      });
    // Three short ones: the third waits for a slot and then runs.
    const short = await Promise.all([hold('a', 150), hold('b', 150), hold('c', 150)]);
    expect(short.map((outcome) => outcome.acquired)).toEqual([true, true, true]);
    expect(most).toBe(2);
    // Two long ones: the third gives up after DATABASE_CONNECT_TIMEOUT_MS.
    const long = [hold('d', 1_000), hold('e', 1_000)];
    await expect(hold('f', 10)).rejects.toThrow('timed out waiting for an advisory-lock connection');
    await Promise.all(long);
    expect((await hold('g', 10)).acquired).toBe(true);
  });
});
