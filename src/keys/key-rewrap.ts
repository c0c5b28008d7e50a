import type { PrismaService } from '../database';
import { MasterKeyRing } from './crypto/master-key-ring';
import { KeysRepository, type WrappedKeyTable } from './keys.repository';

export interface RewrapCounts {
  rewrapped: number;
  /** Changed by someone else between our read and our write; left as they wrote it. */
  changedMeanwhile: number;
  /** Not under any key of the ring (or tampered): left untouched, reported by id. */
  failedIds: string[];
}

/** Tables holding wrapped private keys: device keys, then the key pool's pairs. */
const TABLES: WrappedKeyTable[] = ['ClientEncryptionKey', 'KeyPoolPair'];

/**
 * Moves every stored private key (device keys and the key pool's pairs) to the newest
 * master key of the ring. Walks each table by id in batches (keyset order, so a row
 * that fails is not met again), and writes each row only if it still holds what was
 * read: safe next to a running service, resumable after a crash, and a no-op when
 * run twice. A pool pair claimed meanwhile has left its table: it is met (or was
 * already re-wrapped) in ClientEncryptionKey, under the same id and wrapping.
 */
export async function rewrapPrivateKeys(
  prisma: PrismaService,
  ring: MasterKeyRing,
  options: { batchSize: number; afterBatch?: (counts: RewrapCounts) => Promise<void> | void },
): Promise<RewrapCounts> {
  const keys = new KeysRepository(prisma);
  const counts: RewrapCounts = { rewrapped: 0, changedMeanwhile: 0, failedIds: [] };
  for (const table of TABLES) {
    let afterId = '';
    for (;;) {
      const batch = await keys.findWrappedOutside(table, ring.newestPrefix, afterId, options.batchSize);
      if (batch.length === 0) break;
      for (const row of batch) {
        let rewrapped: string;
        try {
          rewrapped = ring.wrap(row.id, ring.unwrap(row.id, row.privateKey));
        } catch {
          counts.failedIds.push(row.id);
          continue;
        }
        if (await keys.replaceWrapped(table, row.id, row.privateKey, rewrapped)) counts.rewrapped += 1;
        else counts.changedMeanwhile += 1;
      }
      afterId = batch[batch.length - 1].id;
      await options.afterBatch?.(counts);
    }
  }
  return counts;
}
