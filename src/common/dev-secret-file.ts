import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A development-only secret kept in a file under DATA_DIR: read it, or create it
 * with `generate()` on first use (readable only by us).
 */
export async function readOrCreateDevSecret(file: string, generate: () => string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dirname(file), { recursive: true, mode: 0o711 });
    // 'wx': if another process created it meanwhile, fail rather than overwrite its secret.
    await writeFile(file, generate(), { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}
