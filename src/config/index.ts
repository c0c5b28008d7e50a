/** Configuration: every environment variable, validated once into a typed AppConfig. */
export {
  AppConfig,
  ConfigError,
  connectionBudget,
  currentHost,
  HostFacts,
  KNOWN_VARIABLES,
  loadConfig,
  MasterKeyEntry,
  parseMasterKeys,
} from './app-config';
export { APP_CONFIG, ConfigModule } from './config.module';
