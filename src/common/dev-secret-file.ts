import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A development-only secret kept in a file under DATA_DIR: read it, or create it
 * with `generate()` on first use (readable only by us). Several processes may start
 * at once (workers): the secret is written to a file of our own, then linked into
 * place, which fails if another process got there first; no one reads a half-written file.
 */
export async function readOrCreateDevSecret(file: string, generate: () => string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dirname(file), { recursive: true, mode: 0o711 });
    const draft = `${file}.${process.pid}.new`;
    await writeFile(draft, generate(), { mode: 0o600 });
    try {
      await link(draft, file);
    } catch {
      // EEXIST: another process's secret is in place; it is the one.
    } finally {
      await unlink(draft).catch(() => undefined);
    }
    return (await readFile(file, 'utf8')).trim();
  }
}
