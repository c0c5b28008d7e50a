import type { KeyRotationRepository } from '../../src/key-rotation/key-rotation.repository';
import { KeyRotationService } from '../../src/key-rotation/key-rotation.service';
import type { RotationReport } from '../../src/key-rotation/rotation-report';
import { KEY_FIELDS } from './operations';
import { LifecycleRows, seedLifecycleRows, snapshotLifecycleTables } from './lifecycle-rows';
import type { TestApp } from './test-app';

export const RUN_KEY_ROTATION = `mutation { runKeyRotation }`;
export const ROTATE_DEVICE_KEY = `mutation Rotate($deviceId: String!) { rotateDeviceKey(deviceId: $deviceId) { ${KEY_FIELDS} } }`;
export const REVOKE_KEY = `mutation Revoke($keyId: ID!, $reason: String!) {
  revokeEncryptionKey(keyId: $keyId, reason: $reason) { ${KEY_FIELDS} }
}`;

/** The job's batch statements, in the order it runs them. */
export const BATCH_STATEMENTS = [
  'deprecateExpiredKeys',
  'deleteKeysEndedBy',
  'deleteMetricsBefore',
  'purgeExpiredConsumedCiphertexts',
  'purgeKeyGenerationsUpTo',
] as const satisfies readonly (keyof KeyRotationRepository)[];

/** Wraps each batch statement of `repository` with `around` (which calls on or not). */
export function aroundBatches(
  repository: KeyRotationRepository,
  around: (statement: string, proceed: () => Promise<unknown>) => Promise<unknown>,
) {
  const methods = repository as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of BATCH_STATEMENTS) {
    const original = methods[name].bind(repository);
    methods[name] = (...args) => around(name, () => original(...args));
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
