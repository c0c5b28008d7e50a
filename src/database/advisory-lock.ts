import { Inject, Injectable, Logger } from '@nestjs/common';
import { Client } from 'pg';
import { APP_CONFIG, type AppConfig } from '../config';
import { connectionOptions } from './connection-options';

export type Exclusive<T> = { acquired: true; result: T } | { acquired: false };

/**
 * PostgreSQL session-level advisory locks, each on a connection of its own held
 * while `work` runs. Not from the pool: a session lock must be released by the
 * session that took it, and ending that session (or the process dying) releases it.
 * At most `database.lockSessions` such connections per process (the connection
 * budget counts them); a caller beyond that waits for one, at most as long as
 * connecting may take, then fails as a connection would.
 */
@Injectable()
export class AdvisoryLock {
  private readonly logger = new Logger(AdvisoryLock.name);
  private sessions = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Runs `work` under the lock `name`, or returns `{ acquired: false }` at once when another session holds it. */
  tryRunExclusive<T>(name: string, work: () => Promise<T>): Promise<Exclusive<T>> {
    return this.withSession(name, 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS acquired', work);
  }

  /** Runs `work` under the lock `name`, waiting for it first. */
  async runExclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const outcome = await this.withSession(name, 'SELECT pg_advisory_lock(hashtextextended($1, 0)), true AS acquired', work);
    if (!outcome.acquired) throw new Error(`advisory lock ${name} not acquired`);
    return outcome.result;
  }

  private async withSession<T>(name: string, lockStatement: string, work: () => Promise<T>): Promise<Exclusive<T>> {
    await this.takeSessionSlot();
    try {
      return await this.onNewSession(name, lockStatement, work);
    } finally {
      this.releaseSessionSlot();
    }
  }

  private takeSessionSlot(): Promise<void> {
    if (this.sessions < this.config.database.lockSessions) {
      this.sessions += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve(); // the releasing caller handed its slot over
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(new Error('timed out waiting for an advisory-lock connection'));
      }, this.config.database.connectTimeoutMs);
      this.waiting.push(granted);
    });
  }

  private releaseSessionSlot() {
    const next = this.waiting.shift();
    if (next) next();
    else this.sessions -= 1;
  }

  private async onNewSession<T>(name: string, lockStatement: string, work: () => Promise<T>): Promise<Exclusive<T>> {
    const client = new Client({ ...connectionOptions(this.config), application_name: 'kms-lock' });
    // Without a listener a dropped connection would crash the process. What runs
    // under these locks stays correct without them (only less tidy), so a warning.
    client.on('error', (error) =>
      this.logger.warn({ lock: name, errorName: error.name }, 'lock connection lost: lock released'),
    );
    await client.connect();
    try {
      const { rows } = await client.query<{ acquired: boolean }>(lockStatement, [name]);
      if (!rows[0].acquired) return { acquired: false };
      return { acquired: true, result: await work() };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
