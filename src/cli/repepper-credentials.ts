import { repepperCredentials } from '../auth';
import { loadPepperRing } from '../common';
import { PrismaService } from '../database';
import { runCli, withCliDatabase } from './cli-database';

/**
 * `npm run -s auth:repepper`: moves every stored passcode and PIN hash under the
 * newest pepper of AUTH_PEPPER (`<new id>:<secret>,<old id>:<secret>`, newest first),
 * without their users. Then the old pepper can leave the ring, except for hashes made
 * before pepper rings (counted here), which need pepper `0` until their user comes
 * back once. Exits 1 if any hash could not be read.
 */
runCli(() =>
  withCliDatabase(async (_url, config) => {
    const peppers = await loadPepperRing(config, (message) => process.stderr.write(`${message}\n`));
    const prisma = new PrismaService(config);
    try {
      const counts = await repepperCredentials(config, prisma, peppers, { batchSize: 500 });
      process.stdout.write(
        `re-peppered ${counts.moved} credential hash(es) under pepper "${peppers.newestId}"; ${counts.current} already under it;` +
          ` ${counts.changedMeanwhile} changed meanwhile; ${counts.needsUser} made before pepper ids (need their user, or pepper "0");` +
          ` ${counts.unreadable} unreadable\n`,
      );
      if (counts.unreadable > 0) throw new Error(`${counts.unreadable} credential hash(es) are under no pepper of the ring`);
    } finally {
      await prisma.$disconnect();
    }
  }),
);
