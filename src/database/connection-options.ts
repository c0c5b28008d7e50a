import type { PoolConfig } from 'pg';
import type { AppConfig } from '../config';

/**
 * Bounds on every connection the service opens, so that a slow or unreachable
 * database fails requests (SERVICE_UNAVAILABLE when it cannot be reached, INTERNAL
 * when a statement runs too long) instead of hanging them: connecting, each statement (server side, and client side a little later
 * for a network that stops answering), and an open transaction left idle.
 */
export function connectionOptions(config: AppConfig): PoolConfig {
  const { connectTimeoutMs, statementTimeoutMs } = config.database;
  return {
    connectionString: config.database.url,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 5000,
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
  };
}
