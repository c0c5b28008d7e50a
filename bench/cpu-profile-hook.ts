/**
 * Loaded into the service by `npm run bench:encryption -- --profile` (`node -r`), and
 * so into every worker process, which inherit the primary's node arguments: SIGUSR2
 * starts a CPU profile of the process's main thread, the next SIGUSR2 writes it to
 * KMS_BENCH_PROFILE_DIR as `<primary|worker>-<pid>.cpuprofile`. Not part of the service.
 */
import cluster from 'node:cluster';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const directory = process.env.KMS_BENCH_PROFILE_DIR;
if (directory) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')),
      );
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(directory, { recursive: true });
      const role = cluster.isWorker ? 'worker' : 'primary';
      writeFileSync(join(directory, `${role}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
