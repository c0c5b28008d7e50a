import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../../config';
import { DEV_PEPPER_FILE, pepperProvider } from './pepper.provider';

const factory = (pepperProvider as { useFactory: (config: unknown) => Promise<Buffer> }).useFactory;

describe('pepperProvider', () => {
  let dataDir: string;
  /** What the provider logged, through Nest's own logger hook (no spy on its internals). */
  let warnings: string[];
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kms-pepper-'));
    warnings = [];
    const ignore = () => undefined;
    Logger.overrideLogger({ log: ignore, error: ignore, warn: (message: unknown) => warnings.push(String(message)) });
  });
  afterEach(async () => {
    Logger.overrideLogger(false);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('uses AUTH_PEPPER when set, and writes no file', async () => {
    const pepper = 'p'.repeat(40);
    const config = loadConfig({ AUTH_PEPPER: pepper, DATA_DIR: dataDir });
    expect(await factory(config)).toEqual(Buffer.from(pepper));
    expect(warnings).toEqual([]);
    await expect(stat(join(dataDir, DEV_PEPPER_FILE))).rejects.toThrow();
  });

  it('without it, creates a development pepper under DATA_DIR (owner-only), warns, and reuses it', async () => {
    const config = loadConfig({ DATA_DIR: join(dataDir, 'nested') });
    const first = await factory(config);
    const file = join(dataDir, 'nested', DEV_PEPPER_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toHaveLength(32);
    expect(warnings).toEqual([expect.stringMatching(/AUTH_PEPPER is not set.*Never use it in production/)]);
    expect(await factory(config)).toEqual(first);
  });
});
