import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock, Observers } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { MetricsRecorder } from '../telemetry';
import { BackgroundKeyGenerator } from './crypto/background-key-generator';
import { MasterKeyRing } from './crypto/master-key-ring';
import type { RsaKeyPair } from './crypto/rsa';
import { KeysRepository, type PoolPair } from './keys.repository';

const HOUR_MS = 60 * 60 * 1000;
/** The pool was full (or another refill had the turn): look again after this, or at the next claim here. */
const POLL_MS = 5_000;
/** The service was busy: look again this soon. */
const BUSY_RECHECK_MS = 50;
/** A refill turn failed (database away...): try again after this. */
const ERROR_PAUSE_MS = 5_000;
/**
 * Longest one pair may take (its turn holds a transaction and a connection meanwhile):
 * about 150 ms of a core, but at nice 19 under a long overload it gets no CPU. Past this
 * the pair is abandoned and the turn rolls back; the next turn starts afresh.
 */
export const MAKE_PAIR_TIMEOUT_MS = 60_000;

/** How busy the process is, as the refill sees it before each key pair. */
export interface Load {
  /** Measured operations (every request that does work is one) running now. */
  operationsRunning: number;
  /** Since the last one finished, ms. */
  msSinceLastOperation: number;
  /** Share of the time since the previous look that the event loop was busy, 0..1. */
  eventLoopUtilization: number;
}

/**
 * When a refill may start a key pair: nothing measured running, none finished in the
 * last `quietMs` (a lull, not a gap between two requests of a burst), and an event loop
 * mostly idle (covers work that is not a measured operation: GraphQL parsing, /metrics).
 */
export const SPARE_CAPACITY = { quietMs: 20, maxEventLoopUtilization: 0.5 };

export function hasSpareCapacity(load: Load, spare = SPARE_CAPACITY): boolean {
  return (
    load.operationsRunning === 0 &&
    load.msSinceLastOperation >= spare.quietMs &&
    load.eventLoopUtilization < spare.maxEventLoopUtilization
  );
}

/**
 * The key pool: RSA-2048 key pairs made ahead of need, stored wrapped in KeyPoolPair
 * (shared by every worker and replica, kept across restarts), so that
 * generateEncryptionKey only claims one (keys.repository.ts, createWithinLimit).
 *
 * The refill runs in every worker of every instance, one key pair per turn; a turn
 * holds a transaction-level advisory lock (refillTurn), so one pair is made at a time
 * in the whole deployment. It starts when fewer than KEY_POOL_REFILL_BELOW fresh pairs
 * are left and fills up to KEY_POOL_SIZE; pairs older than KEY_POOL_MAX_AGE_HOURS are
 * never claimed, and each turn discards them. A pair is made only while this process
 * has spare capacity (hasSpareCapacity), on one thread at the lowest CPU priority
 * (BackgroundKeyGenerator, KEY_POOL_REFILL_NICE): at most one core, and not a cycle
 * a request wants.
 */
@Injectable()
export class KeyPool implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(KeyPool.name);
  private readonly generator: BackgroundKeyGenerator;
  private readonly refillObservers = new Observers<number>(this.logger, 'key pool refill observer failed');
  private claimCount = 0;
  private missCount = 0;
  private filling = false;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private eventLoop = performance.eventLoopUtilization();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRepository,
    private readonly ring: MasterKeyRing,
    private readonly clock: Clock,
    private readonly recorder: MetricsRecorder,
  ) {
    this.generator = new BackgroundKeyGenerator(config.keys.pool.refillNice);
  }

  /** KEY_POOL_SIZE=0: no pool, no refill, every key is made on request. */
  get enabled(): boolean {
    return this.config.keys.pool.size > 0;
  }

  onApplicationBootstrap() {
    if (this.enabled) this.loop = this.run();
  }

  /** Stops the refill; a pair being made is abandoned (its turn's transaction rolls back). */
  async onModuleDestroy() {
    this.stopped = true;
    this.wake?.();
    await this.generator.close();
    await this.loop;
  }

  /** What a claim may take at `now`: pairs created after `freshAfter`; null without a pool. */
  claimable(now: Date): { freshAfter: Date } | null {
    return this.enabled ? { freshAfter: this.freshAfter(now) } : null;
  }

  /** A key pair as stored, in the pool or as a key: a new id (the key's) and its private key wrapped for that id. */
  wrap({ publicKeyPem, privateKeyDer }: RsaKeyPair): PoolPair {
    const id = randomUUID();
    return { id, publicKey: publicKeyPem, privateKey: this.ring.wrap(id, privateKeyDer) };
  }

  /** A request got its key from the pool. */
  claimed() {
    this.claimCount += 1;
    this.wake?.();
  }

  /** A request found the pool empty and makes its key itself. */
  missed() {
    if (!this.enabled) return;
    this.missCount += 1;
    this.wake?.();
  }

  /** A pair made on request that the request could not use after all: into the pool, not wasted. */
  async keep(pair: PoolPair, now: Date): Promise<void> {
    if (this.enabled) await this.keys.addPoolPair(pair, now).catch(() => undefined);
  }

  get claims(): number {
    return this.claimCount;
  }

  get misses(): number {
    return this.missCount;
  }

  /** Called with the seconds each pair this process added took (making and storing it). */
  onRefill(observer: (seconds: number) => void) {
    this.refillObservers.add(observer);
  }

  /** Pairs in the pool now, every instance's. */
  countPairs(): Promise<number> {
    return this.keys.countPoolPairs();
  }

  /**
   * One look at the pool (the loop's step; tests call it directly): adds at most one
   * pair. Returns how long to wait before the next look.
   */
  async refillStep(): Promise<number> {
    if (!hasSpareCapacity(this.load())) return BUSY_RECHECK_MS;
    const { size, refillBelow } = this.config.keys.pool;
    const started = performance.now();
    const turn = await this.keys.refillTurn(
      this.freshAfter(this.clock.now()),
      (count) => count < size && (this.filling || count < refillBelow),
      () => this.makePair(),
    );
    if (!turn.turn) return POLL_MS;
    if (turn.discarded > 0) this.logger.log({ discarded: turn.discarded }, 'key pool: pairs past KEY_POOL_MAX_AGE_HOURS discarded');
    if (!turn.added) {
      this.filling = false;
      await this.generator.close(); // no thread kept while the pool is full
      return POLL_MS;
    }
    const seconds = (performance.now() - started) / 1000;
    this.refillObservers.notify(seconds);
    this.filling = turn.count < size;
    if (!this.filling) this.logger.log({ pairs: turn.count }, 'key pool full');
    return 0;
  }

  private async run() {
    while (!this.stopped) {
      let pause: number;
      try {
        pause = await this.refillStep();
      } catch (error) {
        if (this.stopped) break;
        this.logger.warn({ errorName: (error as Error).name }, 'key pool refill failed; retrying');
        pause = ERROR_PAUSE_MS;
      }
      if (pause > 0) await this.sleep(pause);
    }
  }

  /** Until `ms` have passed, a claim or a miss here, or shutdown. Keeps no process alive. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  /** Pairs created at or before this are past KEY_POOL_MAX_AGE_HOURS: never claimed, discarded by the refill. */
  private freshAfter(now: Date): Date {
    return new Date(now.getTime() - this.config.keys.pool.maxAgeHours * HOUR_MS);
  }

  private load(): Load {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, this.eventLoop);
    this.eventLoop = now;
    const { running, lastFinishedAt } = this.recorder.activity;
    return {
      operationsRunning: running,
      msSinceLastOperation: performance.now() - lastFinishedAt,
      eventLoopUtilization: since.utilization,
    };
  }

  private async makePair(): Promise<PoolPair & { createdAt: Date }> {
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no key pair made in ${MAKE_PAIR_TIMEOUT_MS} ms`));
        void this.generator.close(); // ends the thread: the pair being made is dropped
      }, MAKE_PAIR_TIMEOUT_MS);
      timer.unref();
    });
    abandoned.catch(() => undefined);
    const keyPair = await Promise.race([this.generator.generate(), abandoned]).finally(() => clearTimeout(timer));
    return { ...this.wrap(keyPair), createdAt: this.clock.now() };
  }
}
