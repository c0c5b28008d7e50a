import { ArgsType, Field } from '@nestjs/graphql';
import { IsString, Length, Matches } from 'class-validator';
import { KeyIdArgs } from '../../keys';

/** Any script, but no control or invisible format characters and no surrounding space. */
const REASON = /^[^\p{C}\s](?:[^\p{C}]*[^\p{C}\s])?$/u;

@ArgsType()
export class RevokeEncryptionKeyArgs extends KeyIdArgs {
  @Field({ description: 'Why the key is revoked (kept with the key for audit), 1 to 500 characters.' })
  @IsString()
  @Length(1, 500)
  @Matches(REASON, { message: 'reason must be printable text without surrounding spaces' })
  reason!: string;
}
