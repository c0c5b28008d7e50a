import { applyDecorators } from '@nestjs/common';
import { IsString, Length, Matches } from 'class-validator';

/**
 * Ids and names that reach SQL or logs: printable ASCII without surrounding
 * spaces (a NUL byte alone makes PostgreSQL refuse the whole statement).
 */
export const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
export const KEY_ID_MAX = 128;

export function isPrintableIdentifier(value: string, maxLength: number): boolean {
  return value.length <= maxLength && PRINTABLE.test(value);
}

/**
 * class-validator for an id or name field: a string of 1 to `maxLength` printable
 * ASCII characters without surrounding spaces.
 */
export const IsIdentifier = (field: string, maxLength: number) =>
  applyDecorators(
    IsString(),
    Length(1, maxLength),
    Matches(PRINTABLE, { message: `${field} must be printable ASCII without surrounding spaces` }),
  );
