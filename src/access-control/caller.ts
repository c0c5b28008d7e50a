import type { Scope } from './scopes';

/** Who is calling: an API key's id, name and scopes, or nobody. */
export interface Caller {
  apiKeyId: string;
  name: string;
  scopes: Scope[];
}

/** Set on the HTTP request by the scope guard; read by the request log. */
export interface CallerRequest {
  headers: Record<string, string | string[] | undefined>;
  caller?: Caller | null;
}
