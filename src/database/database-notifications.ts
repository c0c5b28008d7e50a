import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { APP_CONFIG, type AppConfig } from '../config';
import { connectionOptions } from './connection-options';

/** What a module does with the notifications of one channel. */
export interface NotificationSubscriber {
  /** A change was committed (the payload names what changed). */
  notify(payload: string): void;
  /**
   * Notifications may have been missed (the connection dropped, or has just been made):
   * forget everything learnt from the database so far.
   */
  reset(): void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;
/** Our own channel: a notification sent on it comes back after every one committed before it. */
const BARRIER_CHANNEL = 'kms_barrier';

/**
 * PostgreSQL LISTEN on one dedicated connection per process, for caches that must
 * forget a row on every worker of every replica as soon as it changes (the triggers
 * that send the notifications are in the migrations). A cache may trust what it holds
 * only while `isListening`: when the connection drops, every subscriber is reset at
 * once and caches read through until the connection is back (reconnecting with a
 * growing pause), when they are reset again, for what changed in between.
 */
@Injectable()
export class DatabaseNotifications implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseNotifications.name);
  private readonly subscribers = new Map<string, NotificationSubscriber[]>();
  private readonly barriers = new Map<string, () => void>();
  private client?: Client;
  private listening = false;
  private closed = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer?: NodeJS.Timeout;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.subscribers.set(BARRIER_CHANNEL, [{ notify: (token) => this.barriers.get(token)?.(), reset: () => undefined }]);
  }

  /** Channels are fixed when the module starts: subscribe in a constructor. */
  subscribe(channel: string, subscriber: NotificationSubscriber) {
    if (!/^[a-z_]+$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    this.subscribers.set(channel, [...(this.subscribers.get(channel) ?? []), subscriber]);
  }

  /** True while every notification committed from now on will be seen. */
  get isListening(): boolean {
    return this.listening;
  }

  /** Resolves once every change committed before the call has been notified here (tests). */
  async settled(timeoutMs = 5_000): Promise<void> {
    if (!this.listening || !this.client) return;
    const token = randomUUID();
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('notification barrier timed out')), timeoutMs);
      this.barriers.set(token, () => (clearTimeout(timer), resolve()));
    });
    try {
      await this.client.query('SELECT pg_notify($1, $2)', [BARRIER_CHANNEL, token]);
      await seen;
    } finally {
      this.barriers.delete(token);
    }
  }

  async onModuleInit() {
    await this.connect();
  }

  async onApplicationShutdown() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.listening = false;
    await this.client?.end().catch(() => undefined);
  }

  private async connect() {
    const client = new Client({ ...connectionOptions(this.config), application_name: 'kms-listen', keepAlive: true });
    this.client = client;
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost || this.client !== client) return;
      lost = true;
      this.listening = false;
      this.resetAll();
      if (this.closed) return;
      // The driver's message can name hosts and users: its name only.
      this.logger.warn({ errorName: error?.name ?? 'ConnectionEnded', retryInMs: this.retryMs }, 'notification connection lost: caches bypassed until it is back');
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', ({ channel, payload }) => {
      for (const subscriber of this.subscribers.get(channel) ?? []) subscriber.notify(payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.subscribers.keys()) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (lost || this.closed) return;
    // Whatever was cached before this connection listened may have missed a change.
    this.resetAll();
    this.listening = true;
    if (this.retryMs > FIRST_RETRY_MS) this.logger.log('notification connection back: caches flushed');
    this.retryMs = FIRST_RETRY_MS;
  }

  private scheduleReconnect() {
    const delay = this.retryMs;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.retryTimer = setTimeout(() => void this.connect(), delay * (0.5 + Math.random() / 2));
    this.retryTimer.unref();
  }

  private resetAll() {
    for (const subscribers of this.subscribers.values()) for (const subscriber of subscribers) subscriber.reset();
  }
}
