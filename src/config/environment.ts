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
  ValidationArguments,
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

const PEPPER_ID = /^[A-Za-z0-9_-]{1,32}$/;
const MIN_PEPPER_LENGTH = 32;

/**
 * AUTH_PEPPER: `<id>:<secret>[,<id>:<secret>...]`, newest first, or one secret
 * without an id (before pepper rings: it is pepper `0`).
 */
@ValidatorConstraint({ name: 'pepperRing' })
class PepperRingValue implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (typeof value !== 'string') return false;
    if (!value.includes(':')) return value.length >= MIN_PEPPER_LENGTH && !value.includes(',');
    const entries = value.split(',').map((entry) => entry.trim());
    const ids = entries.map((entry) => entry.slice(0, entry.indexOf(':')));
    return (
      entries.every((entry, index) => PEPPER_ID.test(ids[index]) && entry.length - ids[index].length - 1 >= MIN_PEPPER_LENGTH) &&
      new Set(ids).size === ids.length
    );
  }
  defaultMessage() {
    return `$property must be <id>:<secret>[,<id>:<secret>...], newest first, with unique ids and secrets of at least ${MIN_PEPPER_LENGTH} characters (use 32 random bytes, base64); or one such secret without an id`;
  }
}

const CALLER_BUDGET_ENTRY = /^([0-9a-f-]{36})=([1-9][0-9]{0,5})$/;
const MAX_CALLER_BUDGET = 100000;

/** KEY_GEN_CALLER_BUDGETS entries: `<API key id>=<generations per minute>`, comma-separated, each trimmed. */
export function parseCallerBudgets(value: string): Map<string, number> {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  return new Map(
    entries.map((entry) => {
      const [, id, perMinute] = CALLER_BUDGET_ENTRY.exec(entry.toLowerCase()) ?? [];
      return [id, Number(perMinute)];
    }),
  );
}

@ValidatorConstraint({ name: 'callerBudgetList' })
class CallerBudgetList implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (typeof value !== 'string') return false;
    const entries = value.split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean);
    const matches = entries.map((entry) => CALLER_BUDGET_ENTRY.exec(entry));
    const ids = matches.map((match) => match?.[1]);
    return (
      matches.every((match) => match !== null && Number(match[2]) <= MAX_CALLER_BUDGET) &&
      new Set(ids).size === ids.length
    );
  }
  defaultMessage() {
    return `$property must be a comma-separated list of <API key id>=<key generations per minute, 1 to ${MAX_CALLER_BUDGET}>, each id once`;
  }
}

/**
 * A browser's Origin header is scheme://host[:port], lower case, without a default port,
 * path or trailing slash: an entry that is not exactly that would never match one.
 */
export function originProblem(entry: string): string | undefined {
  if (entry.includes('*')) return `"${entry}" is a wildcard; list each origin`;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return `"${entry}" is not an origin such as https://app.example.com`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `"${entry}" is not an http(s) origin`;
  if (url.origin !== entry) return `"${entry}" is not an exact origin (a browser sends "${url.origin}")`;
  return undefined;
}

/** CORS_ORIGINS entries: comma-separated, each trimmed; empty entries are left out. */
export function parseOriginList(value: string): string[] {
  return [...new Set(value.split(',').map((entry) => entry.trim()).filter(Boolean))];
}

@ValidatorConstraint({ name: 'originList' })
class OriginList implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return typeof value === 'string' && parseOriginList(value).every((entry) => !originProblem(entry));
  }
  defaultMessage(args?: ValidationArguments) {
    const first = parseOriginList(String(args?.value)).map(originProblem).find(Boolean);
    return `$property must be comma-separated exact origins (scheme://host[:port], no path, no wildcard): ${first}`;
  }
}

/**
 * Every environment variable the service reads, with its default.
 * `.env.example` documents the same list; a test keeps the two in step.
 * The type check of each variable is the decorator nearest to it: class-validator
 * evaluates it first, and loadConfig reports only the first failure per variable.
 */
export class Environment {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: 'development' | 'test' | 'production' = 'development';

  @Type(() => Number) @Min(0) @Max(65535) @IsInt()
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @IsOptional() @Type(() => Number) @Min(1) @Max(256) @IsInt()
  WEB_CONCURRENCY?: number;

  @IsOptional() @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: '$property must be a postgres:// or postgresql:// connection URL',
  })
  DATABASE_URL?: string;

  @MinLength(1) @IsString()
  DATA_DIR = './.data';

  @IsOptional() @Type(() => Number) @Min(1) @Max(65535) @IsInt()
  EMBEDDED_PG_PORT?: number;

  @Type(() => Number) @Min(100) @Max(600000) @IsInt()
  DATABASE_CONNECT_TIMEOUT_MS = 5000;

  @Type(() => Number) @Min(100) @Max(3600000) @IsInt()
  DATABASE_STATEMENT_TIMEOUT_MS = 30000;

  @Type(() => Number) @Min(5) @Max(10000) @IsInt()
  DATABASE_MAX_CONNECTIONS = 40;

  @Type(() => Number) @Min(0) @Max(60000) @IsInt()
  CACHE_MAX_AGE_MS = 5000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional() @IsIn(['json', 'pretty'])
  LOG_FORMAT?: 'json' | 'pretty';

  @IsOptional() @MinLength(1) @IsString()
  LOG_FILE?: string;

  @Type(() => Number) @Min(1) @Max(3650) @IsInt()
  KEY_EXPIRY_DAYS = 30;

  @Type(() => Number) @Min(1) @Max(3650) @IsInt()
  KEY_RETENTION_DAYS = 90;

  @Type(() => Number) @Min(1) @Max(1000) @IsInt()
  MAX_KEY_GEN_PER_DEVICE = 5;

  @Type(() => Number) @Min(1) @Max(8760) @IsInt()
  KEY_GEN_WINDOW_HOURS = 24;

  @Type(() => Number) @Min(1) @Max(100000) @IsInt()
  MAX_KEY_GEN_PER_CALLER_PER_MINUTE = 60;

  @IsOptional() @Validate(CallerBudgetList)
  KEY_GEN_CALLER_BUDGETS?: string;

  @Type(() => Number) @Min(1) @Max(100) @IsInt()
  MAX_KEY_GEN_PER_REQUEST = 3;

  @Type(() => Number) @Min(0) @Max(100000) @IsInt()
  KEY_POOL_SIZE = 64;

  @Type(() => Number) @Min(1) @Max(100000) @IsInt()
  KEY_POOL_REFILL_BELOW = 48;

  @Type(() => Number) @Min(1) @Max(8760) @IsInt()
  KEY_POOL_MAX_AGE_HOURS = 168;

  @Type(() => Number) @Min(0) @Max(19) @IsInt()
  KEY_POOL_REFILL_NICE = 19;

  @Type(() => Number) @Min(256) @Max(1048576) @IsInt()
  MAX_ENCRYPTED_DATA_SIZE = 2048;

  @Validate(CronExpression) @IsString()
  KEY_ROTATION_CRON = '0 3 * * *';

  @Type(() => Number) @Min(10) @Max(100000) @IsInt()
  KEY_ROTATION_BATCH_SIZE = 1000;

  @Type(() => Number) @Min(1) @Max(3650) @IsInt()
  METRICS_RETENTION_DAYS = 90;

  @Type(() => Number) @Min(1) @Max(3650) @IsInt()
  METRICS_ROLLUP_RETENTION_DAYS = 400;

  @Type(() => Number) @Min(1000) @Max(3600000) @IsInt()
  METRICS_ROLLUP_INTERVAL_MS = 60000;

  @Type(() => Number) @Min(0) @Max(4096) @IsInt()
  METRICS_SUMMARY_CACHE_MB = 64;

  @IsOptional() @Validate(MasterKeyRing)
  KMS_MASTER_KEYS?: string;

  @IsOptional() @Validate(PepperRingValue)
  AUTH_PEPPER?: string;

  @Type(() => Number) @Min(1) @Max(100) @IsInt()
  AUTH_MAX_ATTEMPTS = 5;

  @Type(() => Number) @Min(1) @Max(10080) @IsInt()
  AUTH_LOCKOUT_MINUTES = 15;

  @Type(() => Number) @Min(8192) @Max(4194304) @IsInt()
  ARGON2_MEMORY_KIB = 19456;

  @Type(() => Number) @Min(1) @Max(20) @IsInt()
  ARGON2_TIME_COST = 2;

  @Type(() => Number) @Min(1) @Max(16) @IsInt()
  ARGON2_PARALLELISM = 1;

  @Transform(toBoolean) @IsOptional() @IsBoolean()
  ALLOW_ANONYMOUS_CLIENTS?: boolean;

  @IsOptional() @MinLength(32) @MaxLength(256) @IsString()
  KMS_BOOTSTRAP_ADMIN_KEY?: string;

  @Type(() => Number) @Min(1024) @Max(10485760) @IsInt()
  REQUEST_BODY_LIMIT_BYTES = 65536;

  @Type(() => Number) @Min(2) @Max(50) @IsInt()
  GRAPHQL_MAX_DEPTH = 8;

  @Type(() => Number) @Min(0) @Max(1000) @IsInt()
  GRAPHQL_MAX_ALIASES = 15;

  @Type(() => Number) @Min(1) @Max(10000) @IsInt()
  GRAPHQL_MAX_FIELDS = 200;

  @Type(() => Number) @Min(1) @Max(100) @IsInt()
  GRAPHQL_MAX_BATCH = 5;

  @Type(() => Number) @Min(200) @Max(100000) @IsInt()
  GRAPHQL_MAX_TOKENS = 1000;

  @Type(() => Number) @Min(50) @Max(60000) @IsInt()
  METRICS_FLUSH_INTERVAL_MS = 1000;

  @Type(() => Number) @Min(1) @Max(10000) @IsInt()
  METRICS_BATCH_SIZE = 500;

  @Type(() => Number) @Min(100) @Max(10000000) @IsInt()
  METRICS_BUFFER_MAX = 50000;

  @Type(() => Number) @Min(1) @Max(1000000) @IsInt()
  METRICS_PROBLEM_KEY_MIN_FAILURES = 5;

  @Type(() => Number) @Min(0) @Max(1) @IsNumber()
  METRICS_PROBLEM_KEY_FAILURE_RATE = 0.2;

  @Type(() => Number) @Min(100) @Max(600000) @IsInt()
  SHUTDOWN_TIMEOUT_MS = 15000;

  @Type(() => Number) @Min(0) @Max(60000) @IsInt()
  SHUTDOWN_KEEPALIVE_GRACE_MS = 1000;

  @IsOptional() @Validate(OriginList)
  CORS_ORIGINS?: string;
}

/** Variables whose values must never appear in an error message or a log line. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'DATABASE_URL',
  'KMS_MASTER_KEYS',
  'AUTH_PEPPER',
  'KMS_BOOTSTRAP_ADMIN_KEY',
]);
