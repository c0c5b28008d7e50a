import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import type { Batch } from '../database';
import { CredentialsRepository } from './credentials.repository';

/** The daily job's work on the auth module's tables, one batch per call. */
@Injectable()
export class AuthMaintenance {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly credentials: CredentialsRepository,
  ) {}

  /** Purges single-use records whose key can no longer decrypt anything. */
  purgeSpentCiphertexts(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.credentials.purgeSpentCiphertexts(now, after, limit);
  }

  /**
   * Deletes the rows made to count the attempts of users with no passcode and no PIN
   * (lockAttemptState) once a lock-out window has passed since their last attempt
   * and no lock is in force: their count then starts again from zero, as an expired
   * lock's does.
   */
  purgePlaceholderCredentials(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    const quietSince = new Date(now.getTime() - this.config.auth.lockoutMinutes * 60_000);
    return this.credentials.purgePlaceholders(now, quietSince, after, limit);
  }
}
