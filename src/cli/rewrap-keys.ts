import { PrismaService } from '../database';
import { loadMasterKeyRing, rewrapPrivateKeys } from '../keys';
import { runCli, withCliDatabase } from './cli-database';

/**
 * `npm run -s keys:rewrap`: re-encrypts every stored private key under the newest
 * master key of KMS_MASTER_KEYS. Put the new key first in the ring (keep the old
 * ones), run this, then drop the old keys from the ring. Exits 1 if any row failed.
 */
runCli(() =>
  withCliDatabase(async (_url, config) => {
    const ring = await loadMasterKeyRing(config, (message) => process.stderr.write(`${message}\n`));
    const prisma = new PrismaService(config);
    try {
      const counts = await rewrapPrivateKeys(prisma, ring, { batchSize: 500 });
      process.stdout.write(
        `re-wrapped ${counts.rewrapped} private key(s) under master key "${ring.newestId}"` +
          `; ${counts.changedMeanwhile} changed meanwhile; ${counts.failedIds.length} failed\n`,
      );
      if (counts.failedIds.length > 0) {
        throw new Error(`could not unwrap with any key of the ring: ${counts.failedIds.join(', ')}`);
      }
    } finally {
      await prisma.$disconnect();
    }
  }),
);
