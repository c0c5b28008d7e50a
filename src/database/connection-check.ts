import { Client } from 'pg';

/** host:port/database (or the socket directory) of a connection URL, without user or password: safe to print. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const socketDir = parsed.searchParams.get('host');
    if (socketDir?.startsWith('/')) return `unix:${socketDir} ${parsed.pathname}`;
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

export class DatabaseUnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`cannot connect to the database at ${describeDatabaseUrl(url)}: ${reason}`);
    this.name = 'DatabaseUnreachableError';
  }
}

/** One plain connection first, so that a bad DATABASE_URL gives a one-line reason, not an engine trace. */
export async function assertDatabaseReachable(url: string, timeoutMs = 5000): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    throw new DatabaseUnreachableError(url, [code, message].filter(Boolean).join(' '));
  } finally {
    await client.end().catch(() => undefined);
  }
}
