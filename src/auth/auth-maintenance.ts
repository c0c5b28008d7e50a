import { Injectable } from '@nestjs/common';
import type { Batch } from '../database';
import { CredentialsRepository } from './credentials.repository';

/** The daily job's work on the auth module's tables, one batch per call. */
@Injectable()
export class AuthMaintenance {
  constructor(private readonly credentials: CredentialsRepository) {}

  /** Purges single-use records whose key can no longer decrypt anything. */
  purgeSpentCiphertexts(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.credentials.purgeSpentCiphertexts(now, after, limit);
  }
}
