import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { hash, parseOptions, verify, type Algorithm, type Options } from '@node-rs/argon2';
import { PepperRing } from '../../common';
import { APP_CONFIG, type AppConfig, UNNAMED_PEPPER_ID } from '../../config';

// Algorithm.Argon2id: a const enum, which is not there at run time when compiled file by file.
const ARGON2ID: Algorithm = 2;
const FORMAT = 'kmsp1';
const IV_BYTES = 12;

/** Whose credential a stored hash is: bound into it, so that it checks out on that row only. */
export interface CredentialOwner {
  userId: string;
  /** The column it is stored in (passcodeHash, pinHash). */
  column: string;
}

/** What re-peppering one stored hash came to. */
export type Repeppered =
  | { outcome: 'moved'; stored: string }
  | { outcome: 'current' }
  /** Made before pepper rings (the pepper inside argon2): only its user can move it. */
  | { outcome: 'needs-user' }
  /** Names a pepper the ring no longer has, or does not decrypt for this row. */
  | { outcome: 'unreadable' };

/**
 * argon2id off the event loop, then the pepper: the PHC string is encrypted with
 * AES-256-GCM under a key derived from the newest pepper of AUTH_PEPPER, the owner
 * (user id and column) as authenticated data, stored as
 * `kmsp1.<pepper id>.<iv>.<ciphertext>.<tag>`. Without the pepper a copy of the table
 * gives nothing to guess against (a PIN has only 10^4 to 10^6 values); and since the
 * pepper wraps the hash instead of entering argon2, a new pepper can take over every
 * stored hash without its user's secret (`npm run -s auth:repepper`), so old peppers
 * can leave the ring. Hashes made before (`$argon2id$...`, the pepper as argon2's
 * secret input) are checked with pepper `0` and re-made on their next success.
 */
@Injectable()
export class CredentialHasher implements OnModuleInit {
  private readonly options: Options;
  private dummyHash!: string;
  private static readonly DUMMY_OWNER: CredentialOwner = { userId: '\0dummy', column: 'none' };

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly peppers: PepperRing,
  ) {
    const { memoryKib, timeCost, parallelism } = config.auth.argon2;
    this.options = { algorithm: ARGON2ID, memoryCost: memoryKib, timeCost, parallelism };
  }

  /** Made at start-up, so that even the first unknown user costs one verification and no more. */
  async onModuleInit() {
    this.dummyHash = await this.hash(randomBytes(16).toString('hex'), CredentialHasher.DUMMY_OWNER);
  }

  async hash(secret: string, owner: CredentialOwner): Promise<string> {
    return this.seal(await hash(secret, this.options), owner, this.peppers.newestId);
  }

  async verify(stored: string, secret: string, owner: CredentialOwner): Promise<boolean> {
    if (isUnnamed(stored)) {
      const pepper = this.peppers.secret(UNNAMED_PEPPER_ID);
      return pepper ? verify(stored, secret, { ...this.options, secret: pepper }).catch(() => false) : false;
    }
    const phc = this.open(stored, owner);
    return phc ? verify(phc, secret, this.options).catch(() => false) : false;
  }

  /** True when `stored` is not under the newest pepper, or was made with other argon2 parameters. */
  isOutdated(stored: string, owner: CredentialOwner): boolean {
    if (isUnnamed(stored) || pepperIdOf(stored) !== this.peppers.newestId) return true;
    const phc = this.open(stored, owner);
    if (!phc) return true;
    const used = parseOptions(phc);
    return (
      used.memoryCost !== this.options.memoryCost ||
      used.timeCost !== this.options.timeCost ||
      used.parallelism !== this.options.parallelism
    );
  }

  /** `stored` under the newest pepper, without the secret it protects (the hash inside is unchanged). */
  repepper(stored: string, owner: CredentialOwner): Repeppered {
    if (isUnnamed(stored)) return { outcome: 'needs-user' };
    if (pepperIdOf(stored) === this.peppers.newestId) return { outcome: 'current' };
    const phc = this.open(stored, owner);
    return phc ? { outcome: 'moved', stored: this.seal(phc, owner, this.peppers.newestId) } : { outcome: 'unreadable' };
  }

  /** The same work as a real verification, for a user with no credential: always false. */
  async verifyAgainstNothing(secret: string): Promise<false> {
    await this.verify(this.dummyHash, secret, CredentialHasher.DUMMY_OWNER);
    return false;
  }

  private seal(phc: string, owner: CredentialOwner, pepperId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.peppers.key(pepperId, 'credential-hash')!, iv);
    cipher.setAAD(aad(owner));
    const ciphertext = Buffer.concat([cipher.update(phc, 'utf8'), cipher.final()]);
    return [FORMAT, pepperId, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** The PHC string inside, or undefined (another format, an unknown pepper, another row's hash). */
  private open(stored: string, owner: CredentialOwner): string | undefined {
    const [format, pepperId, iv, ciphertext, tag] = stored.split('.');
    const key = this.peppers.key(pepperId ?? '', 'credential-hash');
    if (format !== FORMAT || !key || tag === undefined) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(owner));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** A hash from before pepper rings: a plain PHC string, the pepper inside argon2. */
const isUnnamed = (stored: string) => stored.startsWith('$argon2');
const pepperIdOf = (stored: string) => stored.split('.')[1];
const aad = (owner: CredentialOwner) => Buffer.from(`UserCredential:${owner.userId}:${owner.column}`, 'utf8');
