import type { PepperRing } from '../common';
import type { AppConfig } from '../config';
import type { PrismaService } from '../database';
import { PASSCODE, TRANSACTION_PIN } from './credential-kind';
import { CredentialsRepository } from './credentials.repository';
import { CredentialHasher } from './crypto/credential-hasher';

export interface RepepperCounts {
  /** Now under the newest pepper. */
  moved: number;
  /** Already under it. */
  current: number;
  /** Changed by a request while we worked (a request writes the newest pepper anyway). */
  changedMeanwhile: number;
  /** Made before pepper rings: they need their user (or pepper `0` kept in the ring). */
  needsUser: number;
  /** Under a pepper the ring no longer has, or not decrypting for their row. */
  unreadable: number;
}

/**
 * Moves every stored passcode and PIN hash under the newest pepper of AUTH_PEPPER,
 * without the secrets they protect (the pepper wraps the hash: see CredentialHasher).
 * Resumable and safe beside a running service: each row is swapped only if it is
 * still what was read. After it, older peppers can leave the ring.
 */
export async function repepperCredentials(
  config: AppConfig,
  prisma: PrismaService,
  peppers: PepperRing,
  { batchSize }: { batchSize: number },
): Promise<RepepperCounts> {
  const repository = new CredentialsRepository(prisma);
  const hasher = new CredentialHasher(config, peppers);
  const counts: RepepperCounts = { moved: 0, current: 0, changedMeanwhile: 0, needsUser: 0, unreadable: 0 };
  for (let after: string | null = null; ; ) {
    const page = await repository.hashesAfter(after, batchSize);
    if (page.length === 0) return counts;
    for (const row of page) {
      for (const kind of [PASSCODE, TRANSACTION_PIN]) {
        const stored = kind === PASSCODE ? row.passcodeHash : row.pinHash;
        if (!stored) continue;
        const result = hasher.repepper(stored, { userId: row.userId, column: kind.columns.hash });
        if (result.outcome === 'current') counts.current += 1;
        else if (result.outcome === 'needs-user') counts.needsUser += 1;
        else if (result.outcome === 'unreadable') counts.unreadable += 1;
        else if (await repository.swapHash(kind, row.userId, stored, result.stored)) counts.moved += 1;
        else counts.changedMeanwhile += 1;
      }
    }
    after = page[page.length - 1].userId;
  }
}
