import { AsyncLocalStorage } from 'node:async_hooks';

/** The HTTP request an operation runs for, as any layer may ask for it. */
export interface RequestContext {
  /** The request id (the x-request-id answered), which log lines written while serving it carry. */
  id: string;
  /**
   * The remote address as Fastify gives it (`request.ip`): the TCP peer. Fastify's
   * trustProxy is off, so X-Forwarded-For is ignored (a client could write anything
   * there); behind a proxy every anonymous caller shows the proxy's address.
   */
  ip: string;
  /** The raw request: where the scope guard notes the caller and the request log its fields. */
  raw: object;
}

const current = new AsyncLocalStorage<RequestContext>();

/**
 * A Fastify preHandler hook (after the body is parsed, whose stream events would lose
 * the context) that runs the rest of the request, GraphQL resolvers included, in its
 * RequestContext: every operation of a batch or alias of the request sees the same one.
 */
export function requestContextHook() {
  return (request: { id: string; ip: string; raw: object }, _reply: unknown, done: () => void) => {
    current.run({ id: request.id, ip: request.ip, raw: request.raw }, done);
  };
}

/** The HTTP request being served; undefined outside one (start-up, the daily job, a command). */
export function currentRequest(): RequestContext | undefined {
  return current.getStore();
}
