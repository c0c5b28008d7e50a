import { KmsClientError, type KmsErrorCode } from './errors.js';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: string; retryAfterSeconds?: number } }[];
}

/**
 * One GraphQL operation over HTTP POST. `content-type: application/json` is what
 * Apollo's CSRF prevention wants (a "simple" request without it is refused).
 * The first GraphQL error, or a transport failure, becomes a KmsClientError.
 */
export async function graphql<T>(
  fetchFn: FetchLike,
  endpoint: string,
  apiKey: string | undefined,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  let response: Response;
  let body: GraphQLBody<T>;
  try {
    response = await fetchFn(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    body = (await response.json()) as GraphQLBody<T>;
  } catch (error) {
    throw new KmsClientError('NETWORK_ERROR', `KMS unreachable: ${(error as Error).message}`);
  }
  const first = body.errors?.[0];
  if (first) {
    const code = (first.extensions?.code ?? 'INTERNAL') as KmsErrorCode;
    throw new KmsClientError(code, first.message ?? code, first.extensions?.retryAfterSeconds);
  }
  if (!response.ok || !body.data) {
    throw new KmsClientError('NETWORK_ERROR', `KMS answered HTTP ${response.status} without data`);
  }
  return body.data;
}
