import { existsSync } from 'node:fs';
import { AppConfig, loadConfig } from './app-config';

export const DOT_ENV_FILE = '.env';

/**
 * The one way the service and every command read their configuration: a `.env`
 * file in the working directory fills in what the environment does not set (the
 * environment wins, as with `node --env-file`), then everything is validated.
 * `overrides` win over both (print-schema's fixed, database-free settings).
 */
export function loadEnvironmentConfig(overrides: Record<string, string> = {}): AppConfig {
  if (existsSync(DOT_ENV_FILE)) process.loadEnvFile(DOT_ENV_FILE);
  return loadConfig({ ...process.env, ...overrides });
}
