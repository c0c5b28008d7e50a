import { availableParallelism } from 'node:os';
import { PepperRing } from '../../common';
import { loadConfig } from '../../config';
import { argon2Concurrency, CredentialHasher } from './credential-hasher';

describe('CredentialHasher', () => {
  it("shares the CPUs out between the workers as argon2 turns, at least one per process", () => {
    expect(argon2Concurrency(2, 2)).toBe(1);
    expect(argon2Concurrency(2, 1)).toBe(2);
    expect(argon2Concurrency(8, 3)).toBe(2);
    expect(argon2Concurrency(2, 4)).toBe(1);
  });

  it('runs no more argon2 at once than its turns; the rest wait in order, and all finish', async () => {
    const config = loadConfig({ WEB_CONCURRENCY: String(availableParallelism()), ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
    const hasher = new CredentialHasher(config, new PepperRing([{ id: '1', secret: Buffer.alloc(32, 7) }]));
    const owner = { userId: 'user-1', column: 'passcodeHash' };
    const stored = await hasher.hash('correct horse', owner);
    const checks = [hasher.verify(stored, 'correct horse', owner), hasher.verify(stored, 'wrong', owner), hasher.verify(stored, 'correct horse', owner)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(hasher.argon2Load()).toEqual({ running: 1, waiting: 2 });
    expect(await Promise.all(checks)).toEqual([true, false, true]);
    expect(hasher.argon2Load()).toEqual({ running: 0, waiting: 0 });
  });
});
