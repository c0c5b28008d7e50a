/** What a client is told to wait before retrying: PostgreSQL restarts in about a second. */
export const RETRY_AFTER_SECONDS = 1;

/** Internal reasons (logs, metric rows) of a SERVICE_UNAVAILABLE. */
export type UnavailableReason =
  | 'database-unreachable'
  | 'database-connection-lost'
  | 'database-starting'
  | 'database-overloaded';

/** SQLSTATEs of a server going away, starting, or full (PostgreSQL appendix A). */
const SQLSTATES: Record<string, UnavailableReason> = {
  '57P01': 'database-connection-lost', // admin_shutdown: the server is stopping or restarting
  '57P02': 'database-connection-lost', // crash_shutdown
  '57P03': 'database-starting', // cannot_connect_now: starting up, shutting down, recovering
  '08000': 'database-connection-lost',
  '08001': 'database-unreachable',
  '08003': 'database-connection-lost',
  '08004': 'database-unreachable',
  '08006': 'database-connection-lost',
  '53300': 'database-overloaded', // too_many_connections
};

/** Node's socket errors on the way to the server. ENOENT only from connect() (a Unix socket not there). */
const SOCKET_CODES: Record<string, UnavailableReason> = {
  ECONNREFUSED: 'database-unreachable',
  EHOSTUNREACH: 'database-unreachable',
  ENETUNREACH: 'database-unreachable',
  ENETDOWN: 'database-unreachable',
  ENOTFOUND: 'database-unreachable',
  EAI_AGAIN: 'database-unreachable',
  ETIMEDOUT: 'database-unreachable',
  ECONNRESET: 'database-connection-lost',
  EPIPE: 'database-connection-lost',
};

/** Prisma's codes for the same (P1001 can't reach, P1002 timed out, P1017 closed, P2024 pool timeout). */
const PRISMA_CODES: Record<string, UnavailableReason> = {
  P1001: 'database-unreachable',
  P1002: 'database-unreachable',
  P1017: 'database-connection-lost',
  P2024: 'database-overloaded',
};

/** @prisma/adapter-pg's kinds for socket errors. */
const ADAPTER_KINDS: Record<string, UnavailableReason> = {
  DatabaseNotReachable: 'database-unreachable',
  SocketTimeout: 'database-unreachable',
  ConnectionClosed: 'database-connection-lost',
  TooManyConnections: 'database-overloaded',
};

/** node-postgres and pg-pool raise these without a code. */
const DRIVER_MESSAGES: [RegExp, UnavailableReason][] = [
  [/^Connection terminated/, 'database-connection-lost'],
  [/^Client has encountered a connection error and is not queryable$/, 'database-connection-lost'],
  [/^timeout exceeded when trying to connect$/, 'database-overloaded'],
  [/^Query read timeout$/, 'database-unreachable'],
];

interface ErrorShape {
  code?: unknown;
  /** Set on the Prisma client's errors. */
  clientVersion?: unknown;
  syscall?: unknown;
  kind?: unknown;
  originalCode?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/**
 * The one place that tells "the database is unreachable or restarting" (retryable:
 * SERVICE_UNAVAILABLE) from a fault (INTERNAL), by the shapes in which node-postgres,
 * pg-pool, @prisma/adapter-pg and the Prisma client report it, following `cause` and
 * Prisma's `meta.driverAdapterError` down the chain. A statement timeout (57014) is
 * not here: the server answers, something holds it up, and that is ours to find.
 */
export function unavailableReason(error: unknown): UnavailableReason | undefined {
  const seen = new Set<unknown>();
  for (let current = error; current && typeof current === 'object' && !seen.has(current); ) {
    seen.add(current);
    const shape = current as ErrorShape;
    const reason = reasonOf(shape);
    if (reason) return reason;
    current = shape.meta?.driverAdapterError ?? shape.cause;
  }
  return undefined;
}

function reasonOf({ code, syscall, kind, originalCode, message, clientVersion }: ErrorShape): UnavailableReason | undefined {
  const own = (table: Record<string, UnavailableReason>, key: unknown) =>
    typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
  // A socket error as Node raises it (with its syscall), or as the Prisma client passes it on:
  // its request error keeps the code (ECONNREFUSED, ENOENT for a Unix socket) and drops the rest.
  const fromSocket = typeof syscall === 'string' || typeof clientVersion === 'string';
  if (code === 'ENOENT' && (syscall === 'connect' || typeof clientVersion === 'string')) return 'database-unreachable';
  const found =
    own(SQLSTATES, code) ??
    own(SQLSTATES, originalCode) ??
    own(PRISMA_CODES, code) ??
    own(ADAPTER_KINDS, kind) ??
    (fromSocket ? own(SOCKET_CODES, code) : undefined);
  if (found) return found;
  if (typeof message !== 'string') return undefined;
  return DRIVER_MESSAGES.find(([pattern]) => pattern.test(message))?.[1];
}
