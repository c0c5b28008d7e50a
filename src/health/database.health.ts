import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { pendingMigrations, PrismaService } from '../database';

const PING_TIMEOUT_MS = 2000;

/** Readiness: the database answers and has every migration of this build applied. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly prisma: PrismaService,
    private readonly health: HealthIndicatorService,
  ) {}

  async isReachable(key = 'database') {
    const check = this.health.check(key);
    try {
      await withTimeout(this.prisma.$queryRaw`SELECT 1`, PING_TIMEOUT_MS);
      return check.up();
    } catch {
      // No driver message here: it can name hosts and users.
      return check.down({ message: 'database unreachable' });
    }
  }

  async isMigrated(key = 'migrations') {
    const check = this.health.check(key);
    const pending = await withTimeout(pendingMigrations(this.prisma), PING_TIMEOUT_MS).catch(() => null);
    if (pending === null) return check.down({ message: 'migration state unknown' });
    return pending.length === 0 ? check.up() : check.down({ pending });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
