import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Logger, Provider } from '@nestjs/common';
import { readOrCreateDevSecret } from '../../common';
import { APP_CONFIG, type AppConfig, parseMasterKeys } from '../../config';
import { MasterKeyRing } from './master-key-ring';

export const DEV_MASTER_KEY_FILE = 'master-key.dev';

/**
 * KMS_MASTER_KEYS when set. Otherwise (never in production: config refuses) a
 * development key kept in DATA_DIR, created on first start with a warning.
 */
export const masterKeyRingProvider: Provider = {
  provide: MasterKeyRing,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) =>
    loadMasterKeyRing(config, (message) => new Logger('MasterKeyRing').warn(message)),
};

/** Also used by the re-wrap command, outside Nest. */
export async function loadMasterKeyRing(
  config: AppConfig,
  warn: (message: string) => void,
): Promise<MasterKeyRing> {
  if (config.masterKeys) return new MasterKeyRing(config.masterKeys);
  const file = join(config.database.dataDir, DEV_MASTER_KEY_FILE);
  warn(
    `KMS_MASTER_KEYS is not set: private keys are wrapped with the development key in ${file}.` +
      ' Never use it in production.',
  );
  const ring = await readOrCreateDevSecret(file, () => `dev:${randomBytes(32).toString('base64')}`);
  return new MasterKeyRing(parseMasterKeys(ring));
}
