import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type AppConfig, parsePepperRing, type PepperEntry } from '../../config';
import { readOrCreateDevSecret } from '../dev-secret-file';

export const DEV_PEPPER_FILE = 'auth-pepper.dev';

/** What a derived key is for: each use gets its own key, never the pepper itself. */
export type PepperPurpose = 'credential-hash' | 'api-key-hash';

/**
 * The server secrets mixed into what is stored about low-entropy secrets (passcodes,
 * PINs, a chosen API key), kept outside the database: AUTH_PEPPER, a ring like the
 * master key ring (newest first, each with an id). New values use the newest; a
 * stored value names the pepper it was made with, so that older ones still check
 * out while they are in the ring.
 */
export class PepperRing {
  private readonly byId: Map<string, PepperEntry>;
  private readonly derived = new Map<string, Buffer>();

  constructor(readonly entries: readonly PepperEntry[]) {
    if (entries.length === 0) throw new Error('the pepper ring is empty');
    this.byId = new Map(entries.map((entry) => [entry.id, entry]));
  }

  get newestId(): string {
    return this.entries[0].id;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The pepper's raw bytes (argon2's secret input, for hashes made before the ring). */
  secret(id: string): Buffer | undefined {
    return this.byId.get(id)?.secret;
  }

  /** A 256-bit key for `purpose` derived from pepper `id` (HKDF-SHA256); undefined when the ring has no such pepper. */
  key(id: string, purpose: PepperPurpose): Buffer | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    const name = `${id}\0${purpose}`;
    let key = this.derived.get(name);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', entry.secret, Buffer.alloc(0), `kms/${purpose}/v1`, 32));
      this.derived.set(name, key);
    }
    return key;
  }

  /** HMAC-SHA256 of `data` under the key for `purpose` of pepper `id`, hex. */
  hmac(id: string, purpose: PepperPurpose, data: string): string | undefined {
    const key = this.key(id, purpose);
    return key && createHmac('sha256', key).update(data, 'utf8').digest('hex');
  }
}

/**
 * AUTH_PEPPER when set. Otherwise (never in production: config refuses) a development
 * pepper kept in DATA_DIR, created on first start, read with the same syntax (a
 * single value is pepper `0`), with a warning.
 */
export async function loadPepperRing(config: AppConfig, warn: (message: string) => void): Promise<PepperRing> {
  if (config.auth.peppers) return new PepperRing(config.auth.peppers);
  const file = join(config.database.dataDir, DEV_PEPPER_FILE);
  warn(
    `AUTH_PEPPER is not set: passcodes, PINs and a chosen API key are peppered with the development secret in ${file}.` +
      ' Never use it in production.',
  );
  const ring = await readOrCreateDevSecret(file, () => randomBytes(32).toString('base64'));
  return new PepperRing(parsePepperRing(ring));
}
