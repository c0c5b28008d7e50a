import { createServer } from 'node:net';
import { Client } from 'pg';
import { DatabaseError } from 'pg-protocol';
import { describeFailure } from './kms-error';
import { unavailableReason } from './unavailable';

const pgError = (code: string, message = 'x') => Object.assign(new DatabaseError(message, message.length, 'error'), { code, severity: 'FATAL' });
const prismaError = (code: string, extra: object = {}) =>
  Object.assign(new Error('Invalid `prisma.x()` invocation'), { name: 'PrismaClientKnownRequestError', code, clientVersion: '7.10.0', meta: {}, ...extra });

describe('unavailableReason (SERVICE_UNAVAILABLE or INTERNAL)', () => {
  it('recognises a refused connection as node-postgres raises it', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new Client({ host: '127.0.0.1', port, user: 'x', database: 'x' });
    const error = await client.connect().then(() => undefined, (failure: unknown) => failure);
    expect(unavailableReason(error)).toBe('database-unreachable');
    expect(describeFailure(error)).toEqual({ code: 'SERVICE_UNAVAILABLE', reason: 'database-unreachable' });
  });

  it.each([
    ['a Unix socket that is not there', Object.assign(new Error('connect ENOENT /x/.s.PGSQL.5432'), { code: 'ENOENT', syscall: 'connect' }), 'database-unreachable'],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }), 'database-connection-lost'],
    ['57P01 admin shutdown', pgError('57P01', 'terminating connection due to administrator command'), 'database-connection-lost'],
    ['57P02 crash shutdown', pgError('57P02'), 'database-connection-lost'],
    ['57P03 cannot connect now', pgError('57P03', 'the database system is starting up'), 'database-starting'],
    ['08006 connection failure', pgError('08006'), 'database-connection-lost'],
    ['53300 too many connections', pgError('53300'), 'database-overloaded'],
    ['a connection that ended (pg)', new Error('Connection terminated unexpectedly'), 'database-connection-lost'],
    ['a connect timeout (pg)', new Error('Connection terminated due to connection timeout'), 'database-connection-lost'],
    ['a pool connect timeout (pg-pool)', new Error('timeout exceeded when trying to connect'), 'database-overloaded'],
    ['a client-side query timeout (pg)', new Error('Query read timeout'), 'database-unreachable'],
    ['Prisma passing a socket code on', prismaError('ECONNREFUSED'), 'database-unreachable'],
    ['Prisma passing ENOENT on (Unix socket)', prismaError('ENOENT'), 'database-unreachable'],
    ['Prisma P1001', prismaError('P1001'), 'database-unreachable'],
    ['Prisma P1017', prismaError('P1017'), 'database-connection-lost'],
    ['Prisma P2024 (pool timeout)', prismaError('P2024'), 'database-overloaded'],
    ['an adapter error', { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable' } }, 'database-unreachable'],
    ['a raw query failure wrapping 57P01', prismaError('P2010', { meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'postgres', originalCode: '57P01' } } } }), 'database-connection-lost'],
    ['a cause chain', Object.assign(new Error('outer'), { cause: pgError('57P03') }), 'database-starting'],
  ])('%s: unavailable', (_name, error, reason) => {
    expect(unavailableReason(error)).toBe(reason);
  });

  it.each([
    ['a statement timeout (57014): the server answers, something holds it', pgError('57014', 'canceling statement due to statement timeout')],
    ['a unique violation', pgError('23505')],
    ['bad input syntax', pgError('22P02')],
    ['a missing file (ENOENT without connect)', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', syscall: 'open' })],
    ['a code without a syscall or Prisma around it', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })],
    ['a message that merely mentions a connection', new Error('expected Connection terminated unexpectedly')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a cycle of causes', (() => { const a: { cause?: unknown } = {}; const b = { cause: a }; a.cause = b; return a; })()],
    ['nothing', undefined],
  ])('%s: INTERNAL', (_name, error) => {
    expect(unavailableReason(error)).toBeUndefined();
  });
});
