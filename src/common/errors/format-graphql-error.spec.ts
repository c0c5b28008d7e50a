import { BadRequestException, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { ErrorCode } from './error-code';
import { formatGraphQLError } from './format-graphql-error';
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

  it('reports only stack frames of a multi-line message (Prisma puts query values on later lines)', () => {
    const prismaLike = new Error('Invalid `prisma.$queryRaw()` invocation:\n\n\nRaw query failed. Code: `22P02`. Message: `invalid input syntax for type uuid: "secret-value-xyz"`');
    format(formatted(), resolverError(prismaLike));
    const [report] = reports as { frames?: string }[];
    expect(JSON.stringify(reports)).not.toContain('secret-value-xyz');
    expect(report.frames).toMatch(/^\s+at /);
  });

  it('does not trust a request code on an unexpected error', () => {
    const result = format(formatted('BAD_USER_INPUT'), resolverError(new TypeError('x is undefined')));
    expect(result.extensions!.code).toBe('INTERNAL');
  });
});
