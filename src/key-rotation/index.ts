/**
 * Key rotation: the daily lifecycle job (one runner across replicas, batches of the
 * owning modules' statements, see key-rotation.service.ts), its cron schedule, and
 * the operator mutations runKeyRotation, rotateDeviceKey, revokeEncryptionKey.
 */
export { KEY_ROTATION_CRON_JOB } from './key-rotation.scheduler';
export { KeyRotationModule } from './key-rotation.module';
export { KEY_ROTATION_LOCK, KeyRotationService } from './key-rotation.service';
export { RotationCounts, RotationReport } from './rotation-report';
