/**
 * What a request's one log line says beyond method, path and status, noted on the
 * request by whoever learns it (the scope guard: the caller; the GraphQL plugin:
 * operations and outcomes) and read by the HTTP logger when the response is sent.
 */
export interface RequestLogFields {
  /** The caller's API key name, or `anonymous`. Never the key. */
  callerKey?: string;
  /** GraphQL operation names, comma-joined for a batch. */
  operation?: string;
  /** `ok` or the error codes, per operation. */
  outcome?: string;
  /** Internal reasons of the failures (what the codes do not tell apart). */
  reasons?: string;
  /** A request refused outside GraphQL (the body parser) or failed by a bug: the error's name or code, never its message. */
  errorName?: string;
}

const FIELDS = Symbol('kms:requestLogFields');

/** The request's log fields, to read or fill in. */
export function requestLogFields(request: object): RequestLogFields {
  const holder = request as { [FIELDS]?: RequestLogFields };
  holder[FIELDS] ??= {};
  return holder[FIELDS];
}
