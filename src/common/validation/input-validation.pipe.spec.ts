import { BadRequestException } from '@nestjs/common';
import { IsOptional, IsString } from 'class-validator';
import { InputValidationPipe } from './input-validation.pipe';
import { IsIdentifier } from './identifiers';

class Input {
  @IsOptional()
  @IsIdentifier('keyId', 8)
  keyId?: string | null;

  @IsString()
  encryptedData!: string;
}

describe('InputValidationPipe', () => {
  const pipe = new InputValidationPipe();
  const metadata = { type: 'body' as const, metatype: Input, data: 'input' };

  it('returns a valid input as it came, not a copy', async () => {
    const value = { keyId: 'k-1', encryptedData: 'abc' };
    await expect(pipe.transform(value, metadata)).resolves.toBe(value);
    const primitive = 'k-1';
    await expect(pipe.transform(primitive, { type: 'body', metatype: String, data: 'keyId' })).resolves.toBe(primitive);
    await expect(pipe.transform(undefined, metadata)).rejects.toBeInstanceOf(BadRequestException);
  });

  it('refuses what the class does not declare, and what breaks a constraint, with the constraints', async () => {
    await expect(pipe.transform({ encryptedData: 'abc', extra: 1 }, metadata)).rejects.toMatchObject({
      response: { message: ['property extra should not exist'] },
    });
    await expect(pipe.transform({ keyId: 'far-too-long', encryptedData: 'abc' }, metadata)).rejects.toMatchObject({
      response: { message: [expect.stringContaining('keyId')] },
    });
  });
});
