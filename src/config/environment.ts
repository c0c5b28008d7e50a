import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { validateCronExpression } from 'cron';

const toBoolean = ({ value }: { value: unknown }) => {
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (['true', '1', 'yes'].includes(text)) return true;
  if (['false', '0', 'no'].includes(text)) return false;
  return value; // left as a string so that @IsBoolean reports it
};

@ValidatorConstraint({ name: 'cron' })
class CronExpression implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return typeof value === 'string' && validateCronExpression(value).valid;
  }
  defaultMessage() {
    return '$property must be a cron expression such as "0 3 * * *"';
  }
}

const MASTER_KEY_ENTRY = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?$/;

@ValidatorConstraint({ name: 'masterKeyRing' })
class MasterKeyRing implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (typeof value !== 'string') return false;
    const entries = value.split(',').map((entry) => entry.trim());
    const ids = entries.map((entry) => entry.split(':')[0]);
    return (
      entries.every((entry) => MASTER_KEY_ENTRY.test(entry)) && new Set(ids).size === ids.length
    );
  }
  defaultMessage() {
    return '$property must be a comma-separated list of <id>:<32 bytes in base64>, newest first, with unique ids';
  }
}

/**
 * Every environment variable the service reads, with its default.
 * `.env.example` documents the same list; a test keeps the two in step.
 */
export class Environment {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: 'development' | 'test' | 'production' = 'development';

  @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @IsOptional() @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: '$property must be a postgres:// or postgresql:// connection URL',
  })
  DATABASE_URL?: string;

  @IsString() @MinLength(1)
  DATA_DIR = './.data';

  @Type(() => Number) @IsInt() @Min(1) @Max(65535)
  EMBEDDED_PG_PORT = 54320;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional() @IsIn(['json', 'pretty'])
  LOG_FORMAT?: 'json' | 'pretty';

  @IsOptional() @IsString() @MinLength(1)
  LOG_FILE?: string;

  @Type(() => Number) @IsInt() @Min(1) @Max(3650)
  KEY_EXPIRY_DAYS = 30;

  @Type(() => Number) @IsInt() @Min(1) @Max(3650)
  KEY_RETENTION_DAYS = 90;

  @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  MAX_KEY_GEN_PER_DEVICE = 5;

  @Type(() => Number) @IsInt() @Min(1) @Max(8760)
  KEY_GEN_WINDOW_HOURS = 24;

  @Type(() => Number) @IsInt() @Min(256) @Max(1048576)
  MAX_ENCRYPTED_DATA_SIZE = 2048;

  @IsString() @Validate(CronExpression)
  KEY_ROTATION_CRON = '0 3 * * *';

  @Type(() => Number) @IsInt() @Min(10) @Max(100000)
  KEY_ROTATION_BATCH_SIZE = 1000;

  @Type(() => Number) @IsInt() @Min(1) @Max(3650)
  METRICS_RETENTION_DAYS = 90;

  @IsOptional() @Validate(MasterKeyRing)
  KMS_MASTER_KEYS?: string;

  @IsOptional() @IsString() @MinLength(32, {
    message: '$property must be at least 32 characters (use 32 random bytes, base64)',
  })
  AUTH_PEPPER?: string;

  @Type(() => Number) @IsInt() @Min(1) @Max(100)
  AUTH_MAX_ATTEMPTS = 5;

  @Type(() => Number) @IsInt() @Min(1) @Max(10080)
  AUTH_LOCKOUT_MINUTES = 15;

  @Type(() => Number) @IsInt() @Min(8192) @Max(4194304)
  ARGON2_MEMORY_KIB = 19456;

  @Type(() => Number) @IsInt() @Min(1) @Max(20)
  ARGON2_TIME_COST = 2;

  @Type(() => Number) @IsInt() @Min(1) @Max(16)
  ARGON2_PARALLELISM = 1;

  @Transform(toBoolean) @IsOptional() @IsBoolean()
  ALLOW_ANONYMOUS_CLIENTS?: boolean;

  @IsOptional() @IsString() @MinLength(32) @MaxLength(256)
  KMS_BOOTSTRAP_ADMIN_KEY?: string;

  @Type(() => Number) @IsInt() @Min(1024) @Max(10485760)
  REQUEST_BODY_LIMIT_BYTES = 65536;

  @Type(() => Number) @IsInt() @Min(2) @Max(50)
  GRAPHQL_MAX_DEPTH = 8;

  @Type(() => Number) @IsInt() @Min(0) @Max(1000)
  GRAPHQL_MAX_ALIASES = 15;

  @Type(() => Number) @IsInt() @Min(1) @Max(10000)
  GRAPHQL_MAX_FIELDS = 200;

  @Type(() => Number) @IsInt() @Min(1) @Max(100)
  GRAPHQL_MAX_BATCH = 5;

  @Type(() => Number) @IsInt() @Min(50) @Max(60000)
  METRICS_FLUSH_INTERVAL_MS = 1000;

  @Type(() => Number) @IsInt() @Min(1) @Max(10000)
  METRICS_BATCH_SIZE = 500;

  @Type(() => Number) @IsInt() @Min(100) @Max(10000000)
  METRICS_BUFFER_MAX = 50000;

  @Type(() => Number) @IsInt() @Min(1) @Max(1000000)
  METRICS_PROBLEM_KEY_MIN_FAILURES = 5;

  @Type(() => Number) @IsNumber() @Min(0) @Max(1)
  METRICS_PROBLEM_KEY_FAILURE_RATE = 0.2;

  @Type(() => Number) @IsInt() @Min(100) @Max(600000)
  SHUTDOWN_TIMEOUT_MS = 10000;
}

/** Variables whose values must never appear in an error message or a log line. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'DATABASE_URL',
  'KMS_MASTER_KEYS',
  'AUTH_PEPPER',
  'KMS_BOOTSTRAP_ADMIN_KEY',
]);
