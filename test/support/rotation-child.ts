/**
 * A service process that runs the daily job and stops dead between two batches:
 * after KMS_CHILD_PAUSE_AFTER batch statements it tells its parent ("paused") and
 * waits forever, so the parent can SIGKILL it mid-run. KMS_CHILD_NOW fixes its clock.
 * Started by the e2e tests with `node -r @swc-node/register`.
 */
import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { httpAdapter } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import { Clock } from '../../src/common';
import { loadConfig } from '../../src/config';
import { KeyRotationService } from '../../src/key-rotation';
import { aroundBatches } from './key-rotation';
import { TestClock } from './test-clock';

async function main() {
  const clock = new TestClock();
  clock.set(new Date(process.env.KMS_CHILD_NOW!));
  const config = loadConfig();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = await moduleRef.createNestApplication(httpAdapter(config)).init();

  let batches = 0;
  const pauseAfter = Number(process.env.KMS_CHILD_PAUSE_AFTER);
  aroundBatches(app, async (_, proceed) => {
    if (batches === pauseAfter) {
      process.send!('paused');
      await new Promise(() => undefined);
    }
    batches += 1;
    return proceed();
  });
  await app.get(KeyRotationService).run();
  process.send!('finished');
}

void main();
