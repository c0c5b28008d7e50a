import type { RequestContext } from '../common';
import type { Scope } from './scopes';

/** Who is calling: an API key's id, name and scopes. */
export interface Caller {
  apiKeyId: string;
  name: string;
  scopes: Scope[];
}

/** The HTTP request as the scope guard sees it; `caller` is set once it has authenticated (null: anonymous). */
export interface CallerRequest {
  headers: Record<string, string | string[] | undefined>;
  caller?: Caller | null;
}

/**
 * Whom a per-caller budget counts in a request the scope guard has let through: the
 * API key by its id (never the key), or, for an anonymous caller, the remote address
 * (Fastify's request.ip: the TCP peer; X-Forwarded-For is not trusted).
 */
export type BudgetedCaller = { kind: 'api-key'; apiKeyId: string } | { kind: 'address'; address: string };

export function budgetedCaller(request: RequestContext): BudgetedCaller {
  const caller = (request.raw as CallerRequest).caller;
  return caller ? { kind: 'api-key', apiKeyId: caller.apiKeyId } : { kind: 'address', address: request.ip };
}
