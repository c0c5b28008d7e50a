import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { AppConfig } from '../config';
import { KEY_ROTATION_CRON_JOB, KeyRotationScheduler } from './key-rotation.scheduler';
import type { KeyRotationService } from './key-rotation.service';

describe('KeyRotationScheduler', () => {
  const registry = new SchedulerRegistry();
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(() => {
    if (registry.doesExist('cron', KEY_ROTATION_CRON_JOB)) registry.deleteCronJob(KEY_ROTATION_CRON_JOB);
  });

  function schedule(env: AppConfig['env'], cron = '0 3 * * *') {
    const run = jest.fn().mockResolvedValue({ skipped: false });
    const config = { env, rotation: { cron, batchSize: 1000 } } as AppConfig;
    const scheduler = new KeyRotationScheduler(config, registry, { run } as unknown as KeyRotationService);
    scheduler.onApplicationBootstrap();
    return { run, scheduler, job: registry.getCronJob(KEY_ROTATION_CRON_JOB) };
  }

  it('registers the job on KEY_ROTATION_CRON and starts it outside tests', () => {
    const { job } = schedule('production', '15 4 * * 1-5');
    expect(job.cronTime.source).toBe('15 4 * * 1-5');
    expect(job.isActive).toBe(true);
  });

  it('never starts it under NODE_ENV=test', () => {
    const { job } = schedule('test');
    expect(job.cronTime.source).toBe('0 3 * * *');
    expect(job.isActive).toBe(false);
  });

  it('runs the job on a tick, as the "schedule" trigger', async () => {
    const { job, run } = schedule('test');
    await job.fireOnTick();
    expect(run).toHaveBeenCalledWith('schedule');
  });

  it('survives a failed run (the job has logged it; the next tick retries)', async () => {
    const { scheduler, run } = schedule('test');
    run.mockRejectedValueOnce(new Error('database down'));
    await expect(scheduler.tick()).resolves.toBeUndefined();
  });
});
