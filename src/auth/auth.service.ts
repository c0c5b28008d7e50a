import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { ciphertextFingerprint, EncryptionService } from '../encryption';
import { Measured, tagOperation } from '../telemetry';
import { AttemptCounter, FRESH_COUNTER, LockoutPolicy, remainingAttempts, reserveAttempt } from './attempts';
import { authErrors } from './auth.errors';
import { CHECK_REFUSALS } from './check-outcomes';
import type { CredentialKind } from './credential-kind';
import { weakCredential } from './credential-policy';
import { ConsumedRecord, CredentialsRepository } from './credentials.repository';
import { CredentialHasher, type CredentialOwner } from './crypto/credential-hasher';
import type { VerificationResult } from './models/verification-result.model';

/** A decrypted secret and the record that makes its ciphertext single-use. */
interface Opened {
  secret: string;
  consumed: ConsumedRecord;
}

/** The outcome of one counted check of the current secret (hash null: there is none, never valid). */
type Check = { valid: boolean; hash: string | null; counter: AttemptCounter };

/** A stored hash belongs to one user's column: it checks out there only. */
const ownerOf = (kind: CredentialKind, userId: string): CredentialOwner => ({ userId, column: kind.columns.hash });

/** Kept this long when the key has no end date yet (never, for keys made by this service). */
const FAR_FUTURE = new Date('9999-12-31T00:00:00Z');

/** Each operation is measured under the kind's own name, tagged with the key asked for. */
type KindArgs = [kind: CredentialKind, userId: string, keyId: string, ...secrets: string[]];
const operationOf = (step: keyof CredentialKind['operations']) => (...[kind]: KindArgs) => kind.operations[step];
const keyOf = (...[, , keyId]: KindArgs) => ({ keyId });

/**
 * Passcode and transaction PIN (docs/contract.md, passcode and transaction PIN): set, verify and change, for
 * secrets encrypted with a device key. Plaintext lives only in this request.
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  private readonly lockout: LockoutPolicy;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly encryption: EncryptionService,
    private readonly credentials: CredentialsRepository,
    private readonly hasher: CredentialHasher,
    private readonly clock: Clock,
  ) {
    this.lockout = {
      maxAttempts: config.auth.maxAttempts,
      lockoutMs: config.auth.lockoutMinutes * 60_000,
    };
  }

  /** The first credential of this kind for the user; never overwrites one (that is change). */
  @Measured(operationOf('set'), keyOf)
  async set(kind: CredentialKind, userId: string, keyId: string, encrypted: string): Promise<boolean> {
    const [opened] = await this.open(keyId, [encrypted]);
    const newHash = await this.hasher.hash(this.acceptable(kind, opened.secret), ownerOf(kind, userId));
    const stored = await this.credentials.consumeThen([opened.consumed], (db) =>
      this.credentials.insertHashIfAbsent(db, kind, userId, newHash, this.clock.now()),
    );
    if (!stored) throw authErrors.alreadySet(kind.label);
    return true;
  }

  @Measured(operationOf('verify'), keyOf)
  async verify(kind: CredentialKind, userId: string, keyId: string, encrypted: string): Promise<VerificationResult> {
    const [opened] = await this.open(keyId, [encrypted]);
    const secret = kind.normalize(opened.secret);
    const check = await this.checkCurrent(kind, userId, [opened], secret);
    if (!check.valid) return this.result(false, check.counter);
    const now = this.clock.now();
    if (this.hasher.isOutdated(check.hash!, ownerOf(kind, userId))) {
      // Re-made with the newest pepper and the configured argon2 parameters while the secret is at hand (resets the count too).
      await this.credentials.replaceHash(kind, userId, check.hash!, await this.hasher.hash(secret, ownerOf(kind, userId)), now);
    } else {
      await this.credentials.saveAttempts(kind, userId, FRESH_COUNTER, now);
    }
    return this.result(true, FRESH_COUNTER);
  }

  /** Replaces the credential when the current one checks out (a counted attempt); false when it does not. */
  @Measured(operationOf('change'), keyOf)
  async change(
    kind: CredentialKind,
    userId: string,
    keyId: string,
    encryptedCurrent: string,
    encryptedNew: string,
  ): Promise<boolean> {
    const [current, next] = await this.open(keyId, [encryptedCurrent, encryptedNew]);
    // Policy first: a refused new secret costs no attempt and consumes nothing.
    const newSecret = this.acceptable(kind, next.secret);
    const check = await this.checkCurrent(kind, userId, [current, next], kind.normalize(current.secret));
    // No credential to change answers like a wrong current one: no hint that it does not exist.
    if (!check.valid) return false;
    const newHash = await this.hasher.hash(newSecret, ownerOf(kind, userId));
    return this.credentials.replaceHash(kind, userId, check.hash!, newHash, this.clock.now());
  }

  /** Decrypts each ciphertext with the device key (size limit and key lifecycle included). */
  private async open(keyId: string, encrypted: string[]): Promise<Opened[]> {
    const opened: Opened[] = [];
    for (const text of encrypted) {
      const { key, plaintext, ciphertext, decryptsUntil } = await this.encryption.decryptSecret(keyId, text);
      opened.push({
        secret: plaintext,
        consumed: {
          hash: ciphertextFingerprint(ciphertext),
          keyId: key.id,
          consumedAt: this.clock.now(),
          // Past this the key is gone and nothing it encrypted can be replayed.
          expiresAt: decryptsUntil ?? FAR_FUTURE,
        },
      });
    }
    return opened;
  }

  /** The normalized secret, or WEAK_CREDENTIAL. */
  private acceptable(kind: CredentialKind, secret: string): string {
    const normalized = kind.normalize(secret);
    const violation = kind.violation(normalized);
    if (violation) throw weakCredential(kind.label, violation);
    return normalized;
  }

  /**
   * Consumes the submissions and reserves one check of the stored hash in a
   * single short transaction (the row lock is not held across argon2), then checks.
   * While locked: CREDENTIAL_LOCKED, and the secret is not checked. A user without
   * this credential goes through the same steps on a row of their own with no
   * hash (made on first use) and a check against a dummy hash, so that answers,
   * counters, lock-out and timing are those of a known user with a wrong secret.
   */
  private async checkCurrent(
    kind: CredentialKind,
    userId: string,
    submissions: Opened[],
    secret: string,
  ): Promise<Check> {
    const now = this.clock.now();
    const reserved = await this.credentials.consumeThen(
      submissions.map((submission) => submission.consumed),
      async (db) => {
        const state = await this.credentials.lockAttemptState(db, kind, userId, now);
        const reservation = reserveAttempt(state, now, this.lockout);
        if (reservation.granted) await this.credentials.saveAttempts(kind, userId, reservation.counter, now, db);
        return { hash: state.hash, reservation };
      },
    );
    const { hash, reservation } = reserved;
    if (!reservation.granted) throw authErrors.locked(reservation.lockedUntil);
    const valid = hash
      ? await this.hasher.verify(hash, secret, ownerOf(kind, userId))
      : await this.hasher.verifyAgainstNothing(secret);
    if (!valid && reservation.counter.lockedUntil) {
      tagOperation({ refusal: CHECK_REFUSALS.lockedOut });
      this.logger.warn(
        { userId, credential: kind.label, lockedUntil: reservation.counter.lockedUntil },
        'credential locked after too many failed attempts',
      );
    } else if (!valid) {
      tagOperation({ refusal: CHECK_REFUSALS.invalid });
    }
    return { valid, hash, counter: reservation.counter };
  }

  private result(valid: boolean, counter: AttemptCounter): VerificationResult {
    return {
      valid,
      remainingAttempts: remainingAttempts(counter, this.lockout),
      lockedUntil: counter.lockedUntil,
    };
  }
}
