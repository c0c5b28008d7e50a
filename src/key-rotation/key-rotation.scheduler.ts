import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { APP_CONFIG, type AppConfig } from '../config';
import { KeyRotationService } from './key-rotation.service';

export const KEY_ROTATION_CRON_JOB = 'key-rotation';

/**
 * Runs the job on KEY_ROTATION_CRON (server time zone). Registered from the
 * configuration rather than a decorator, and never started under NODE_ENV=test:
 * tests call the job themselves, on a clock they move.
 */
@Injectable()
export class KeyRotationScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(KeyRotationScheduler.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: SchedulerRegistry,
    private readonly rotation: KeyRotationService,
  ) {}

  onApplicationBootstrap() {
    const job = CronJob.from({
      cronTime: this.config.rotation.cron,
      onTick: () => this.tick(),
      waitForCompletion: true,
      start: false,
    });
    this.registry.addCronJob(KEY_ROTATION_CRON_JOB, job);
    if (this.config.env !== 'test') job.start();
    this.logger.log({ cron: this.config.rotation.cron, started: job.isActive }, 'key rotation scheduled');
  }

  /** A failed run is logged by the job and retried at the next tick; it must not end the process. */
  async tick() {
    await this.rotation.run('schedule').catch(() => undefined);
  }
}
