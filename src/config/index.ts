/** Configuration: every environment variable, validated once into a typed AppConfig. */
export {
  AppConfig,
  ConfigError,
  ENVIRONMENT_DEFAULTS,
  connectionBudget,
  currentHost,
  HostFacts,
  KNOWN_VARIABLES,
  loadConfig,
  MasterKeyEntry,
  parseMasterKeys,
  parsePepperRing,
  PepperEntry,
  UNNAMED_PEPPER_ID,
} from './app-config';
export { APP_CONFIG, ConfigModule } from './config.module';
export { DOT_ENV_FILE, loadEnvironmentConfig } from './load-environment';
export { SECRET_VARIABLES } from './environment';
