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
