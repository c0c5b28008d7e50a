import { Prisma } from '../generated/prisma/client';

/**
 * First statement of a transaction whose reads should run in its own backend only:
 * starting parallel workers cost tens of ms on a small machine (about 50 ms on 2 cores),
 * more than the scans they would split, and they compete with the caller's other lanes.
 */
export const NO_PARALLEL_WORKERS = Prisma.sql`SET LOCAL max_parallel_workers_per_gather = 0`;
