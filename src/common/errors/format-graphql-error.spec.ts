import { join } from 'node:path';
import { BadRequestException, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { ErrorCode } from './error-code';
import { codeLocations, formatGraphQLError, InternalErrorReport } from './format-graphql-error';
import { KmsError } from './kms-error';

const formatted = (code?: string) => ({ message: 'raw message', path: ['op'], extensions: code ? { code } : {} });
const resolverError = (cause: unknown) =>
  new GraphQLError('wrapped', { path: ['op'], originalError: cause as Error });

describe('formatGraphQLError', () => {
  const reports: unknown[] = [];
  const format = (shape: ReturnType<typeof formatted>, error: unknown) =>
    formatGraphQLError(shape, error, (report) => reports.push(report));
  beforeEach(() => (reports.length = 0));

  it('passes domain errors through with their code and extensions', () => {
    const error = new KmsError(ErrorCode.RATE_LIMITED, 'Too many', { reason: 'device-generation-limit', extensions: { retryAfterSeconds: 7 } });
    expect(format(formatted(), resolverError(error))).toEqual({
      message: 'Too many',
      path: ['op'],
      locations: undefined,
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 7 },
    });
  });

  it('maps input validation and HTTP auth errors into the fixed set', () => {
    const invalid = new BadRequestException({ message: ['deviceId must be shorter', 'appVersion too long'] });
    expect(format(formatted(), resolverError(invalid))).toMatchObject({
      message: 'deviceId must be shorter; appVersion too long',
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    });
    expect(format(formatted(), resolverError(new UnauthorizedException())).extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(format(formatted(), resolverError(new ForbiddenException())).extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('maps GraphQL request errors to BAD_USER_INPUT', () => {
    for (const code of ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST']) {
      expect(format(formatted(code), new GraphQLError('raw message')).extensions).toEqual({ code: 'BAD_USER_INPUT' });
    }
  });

  it('hides anything else behind INTERNAL and a correlation id, reporting no message', () => {
    const secretLeak = new Error('SELECT "privateKey" FROM "ClientEncryptionKey" -- kms1.abc');
    const result = format(formatted('INTERNAL_SERVER_ERROR'), resolverError(secretLeak));
    expect(result.extensions!.code).toBe('INTERNAL');
    const correlationId = result.extensions!.correlationId as string;
    expect(result.message).toBe(`Internal error (correlation id ${correlationId})`);
    expect(JSON.stringify(result)).not.toContain('privateKey');
    expect(reports).toEqual([expect.objectContaining({ correlationId, errorName: 'Error' })]);
    expect(JSON.stringify(reports)).not.toContain('SELECT');
  });

  it('reports where in our code it failed, as file:line:column of this project only', () => {
    format(formatted(), resolverError(new Error('boom')));
    const [report] = reports as InternalErrorReport[];
    expect(Object.keys(report).sort()).toEqual(['at', 'correlationId', 'errorName', 'prismaCode']);
    expect(report.at![0]).toMatch(/^src\/common\/errors\/format-graphql-error\.spec\.ts:\d+:\d+$/);
    // jest's own frames (node_modules) and Node's are not ours: left out.
    for (const location of report.at!) expect(location).toMatch(/^src\/[\w/.-]+\.ts:\d+:\d+$/);
  });

  it('never takes a line of the message for a frame, however it is shaped (Prisma puts values on later lines)', () => {
    const clockFile = join(__dirname, '../clock.ts');
    const prismaLike = new Error(
      'Invalid `prisma.$queryRaw()` invocation:\n\nRaw query failed: invalid input syntax for type uuid: "secret-value-xyz"' +
        `\n    at secret-value-abc (${clockFile}:1:1)\n    at ${clockFile}:7:7`,
    );
    format(formatted(), resolverError(prismaLike));
    const [report] = reports as InternalErrorReport[];
    expect(JSON.stringify(reports)).not.toMatch(/secret-value|clock\.ts/);
    expect(report.at![0]).toMatch(/^src\/common\/errors\/format-graphql-error\.spec\.ts:/);
  });

  it('reports no location when the stack does not start with the message (changed after the fact)', () => {
    const error = new Error('original');
    void error.stack;
    error.message = 'changed: secret-value-def';
    expect(codeLocations(error)).toBeUndefined();
    const renamed = new Error('x');
    renamed.stack = `Some Thing: x\n    at ${join(__dirname, '../clock.ts')}:1:1`;
    expect(codeLocations(renamed)).toBeUndefined();
  });

  it('does not trust a request code on an unexpected error', () => {
    const result = format(formatted('BAD_USER_INPUT'), resolverError(new TypeError('x is undefined')));
    expect(result.extensions!.code).toBe('INTERNAL');
  });
});
