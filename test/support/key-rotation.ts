import type { INestApplicationContext } from '@nestjs/common';
import { AuthMaintenance } from '../../src/auth';
import { KeyRotationService, RotationReport } from '../../src/key-rotation';
import { KeyMaintenance } from '../../src/keys';
import { MetricEventsRepository } from '../../src/telemetry';
import { KEY_FIELDS } from './operations';
import { LifecycleRows, seedLifecycleRows, snapshotLifecycleTables } from './lifecycle-rows';
import type { TestApp } from './test-app';

export const RUN_KEY_ROTATION = `mutation { runKeyRotation }`;
export const ROTATE_DEVICE_KEY = `mutation Rotate($deviceId: String!) { rotateDeviceKey(deviceId: $deviceId) { ${KEY_FIELDS} } }`;
export const REVOKE_KEY = `mutation Revoke($keyId: ID!, $reason: String!) {
  revokeEncryptionKey(keyId: $keyId, reason: $reason) { ${KEY_FIELDS} }
}`;

/** The job's batch statements, in the order it runs them, each on the module that owns its table. */
const BATCH_OWNERS = {
  'KeyMaintenance.deprecateExpiredKeys': [KeyMaintenance, 'deprecateExpiredKeys'],
  'KeyMaintenance.deleteKeysPastRetention': [KeyMaintenance, 'deleteKeysPastRetention'],
  'MetricEventsRepository.deleteBefore': [MetricEventsRepository, 'deleteBefore'],
  'AuthMaintenance.purgeSpentCiphertexts': [AuthMaintenance, 'purgeSpentCiphertexts'],
  'KeyMaintenance.purgeKeyGenerations': [KeyMaintenance, 'purgeKeyGenerations'],
  'KeyMaintenance.purgeCallerGenerations': [KeyMaintenance, 'purgeCallerGenerations'],
  'AuthMaintenance.purgePlaceholderCredentials': [AuthMaintenance, 'purgePlaceholderCredentials'],
} as const;
export type BatchStatement = keyof typeof BATCH_OWNERS;
export const BATCH_STATEMENTS = Object.keys(BATCH_OWNERS) as BatchStatement[];

/** Wraps each batch statement of the app's job with `around` (which calls on or not). */
export function aroundBatches(
  app: INestApplicationContext,
  around: (statement: BatchStatement, proceed: () => Promise<unknown>) => Promise<unknown>,
) {
  for (const statement of BATCH_STATEMENTS) {
    const [owner, method] = BATCH_OWNERS[statement];
    const instance = app.get<object>(owner) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = instance[method].bind(instance);
    instance[method] = (...args) => around(statement, () => original(...args));
  }
}

/** The daily job, called directly (the schedule never fires in tests). */
export const runJob = (t: TestApp): Promise<RotationReport> => t.app.get(KeyRotationService).run();

export const seed = (t: TestApp, rows: LifecycleRows) =>
  seedLifecycleRows((sql, params) => t.prisma.$executeRawUnsafe(sql, ...params), rows);

export const snapshot = (t: TestApp) => snapshotLifecycleTables(t.prisma);

/** Polls until `condition` holds (a deadlock guard, not a speed check). */
export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
