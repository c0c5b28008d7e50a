import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parsePepperRing } from '../../config';
import { DEV_PEPPER_FILE, loadPepperRing } from './pepper-ring';

describe('the pepper ring (AUTH_PEPPER)', () => {
  let dataDir: string;
  let warnings: string[];
  const warn = (message: string) => warnings.push(message);
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kms-pepper-'));
    warnings = [];
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('reads a ring, newest first, and derives one key per pepper and purpose', async () => {
    const ring = await loadPepperRing(loadConfig({ AUTH_PEPPER: `new:${'n'.repeat(40)},old:${'o'.repeat(40)}`, DATA_DIR: dataDir }), warn);
    expect(ring.newestId).toBe('new');
    expect(ring.entries.map((entry) => entry.id)).toEqual(['new', 'old']);
    expect(ring.secret('old')).toEqual(Buffer.from('o'.repeat(40)));
    const keys = [ring.key('new', 'credential-hash'), ring.key('new', 'api-key-hash'), ring.key('old', 'credential-hash')];
    expect(new Set(keys.map((key) => key!.toString('hex'))).size).toBe(3);
    expect(keys.every((key) => key!.length === 32 && !key!.equals(Buffer.from('n'.repeat(32))))).toBe(true);
    expect(ring.key('gone', 'credential-hash')).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('takes a value without an id (AUTH_PEPPER before rings) as pepper "0"', () => {
    const single = 'x'.repeat(44);
    expect(parsePepperRing(single)).toEqual([{ id: '0', secret: Buffer.from(single) }]);
  });

  it.each([
    ['too short', 'p'.repeat(31)],
    ['a short secret in a ring', `a:${'p'.repeat(40)},b:short`],
    ['a repeated id', `a:${'p'.repeat(40)},a:${'q'.repeat(40)}`],
    ['a bad id', `a b:${'p'.repeat(40)}`],
  ])('refuses %s, without echoing it', (_name, value) => {
    expect(() => loadConfig({ AUTH_PEPPER: value })).toThrow(/AUTH_PEPPER: must be <id>:<secret>/);
    expect(() => loadConfig({ AUTH_PEPPER: value })).not.toThrow(/pppp/);
  });

  it('without AUTH_PEPPER, creates a development pepper under DATA_DIR (owner-only), warns, and reuses it', async () => {
    const config = loadConfig({ DATA_DIR: join(dataDir, 'nested') });
    const first = await loadPepperRing(config, warn);
    const file = join(dataDir, 'nested', DEV_PEPPER_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toHaveLength(32);
    expect(first.newestId).toBe('0');
    expect(warnings).toEqual([expect.stringMatching(/AUTH_PEPPER is not set.*Never use it in production/)]);
    expect((await loadPepperRing(config, warn)).secret('0')).toEqual(first.secret('0'));
  });

  it('reads a ring from the development file too', async () => {
    await writeFile(join(dataDir, DEV_PEPPER_FILE), `dev2:${'d'.repeat(40)},0:${'z'.repeat(44)}\n`);
    const ring = await loadPepperRing(loadConfig({ DATA_DIR: dataDir }), warn);
    expect(ring.entries.map((entry) => entry.id)).toEqual(['dev2', '0']);
  });
});
