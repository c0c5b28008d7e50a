import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Logger, Provider } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config';
import { readOrCreateDevSecret } from '../../common';

/** Injection token for the pepper (a Buffer) mixed into every credential hash. */
export const AUTH_PEPPER = Symbol('AUTH_PEPPER');
export const DEV_PEPPER_FILE = 'auth-pepper.dev';

/**
 * AUTH_PEPPER when set. Otherwise (never in production: config refuses) a
 * development pepper kept in DATA_DIR, created on first start with a warning.
 * Changing the pepper invalidates every stored passcode and PIN.
 */
export const pepperProvider: Provider = {
  provide: AUTH_PEPPER,
  inject: [APP_CONFIG],
  useFactory: async (config: AppConfig): Promise<Buffer> => {
    if (config.auth.pepper) return Buffer.from(config.auth.pepper, 'utf8');
    const file = join(config.database.dataDir, DEV_PEPPER_FILE);
    new Logger('AuthPepper').warn(
      `AUTH_PEPPER is not set: passcodes and PINs are peppered with the development secret in ${file}.` +
        ' Never use it in production.',
    );
    const pepper = await readOrCreateDevSecret(file, () => randomBytes(32).toString('base64'));
    return Buffer.from(pepper, 'utf8');
  },
};
