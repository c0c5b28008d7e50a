import { randomBytes } from 'node:crypto';
import { MasterKeyRing } from './master-key-ring';

const entry = (id: string) => ({ id, key: randomBytes(32) });

describe('MasterKeyRing', () => {
  const secret = randomBytes(1200);

  it('wraps under the newest key and unwraps for the same row id', () => {
    const ring = new MasterKeyRing([entry('new'), entry('old')]);
    const wrapped = ring.wrap('row-1', secret);
    expect(wrapped.startsWith('kms1.new.')).toBe(true);
    expect(MasterKeyRing.masterKeyIdOf(wrapped)).toBe('new');
    expect(ring.unwrap('row-1', wrapped)).toEqual(secret);
  });

  it('uses a fresh IV each time', () => {
    const ring = new MasterKeyRing([entry('k')]);
    expect(ring.wrap('row', secret)).not.toBe(ring.wrap('row', secret));
  });

  it('refuses a value moved to another row id', () => {
    const ring = new MasterKeyRing([entry('k')]);
    expect(() => ring.unwrap('row-2', ring.wrap('row-1', secret))).toThrow();
  });

  it('refuses a tampered ciphertext or tag', () => {
    const ring = new MasterKeyRing([entry('k')]);
    const parts = ring.wrap('row', secret).split('.');
    for (const index of [2, 3, 4]) {
      const tampered = [...parts];
      const bytes = Buffer.from(tampered[index], 'base64url');
      bytes[0] ^= 1;
      tampered[index] = bytes.toString('base64url');
      expect(() => ring.unwrap('row', tampered.join('.'))).toThrow();
    }
  });

  it('still unwraps values of an older key in the ring, and none of a key it lost', () => {
    const old = entry('old');
    const before = new MasterKeyRing([old]).wrap('row', secret);
    expect(new MasterKeyRing([entry('new'), old]).unwrap('row', before)).toEqual(secret);
    expect(() => new MasterKeyRing([entry('new')]).unwrap('row', before)).toThrow(/not under any master key/);
  });

  it('refuses an empty ring', () => {
    expect(() => new MasterKeyRing([])).toThrow();
  });
});
