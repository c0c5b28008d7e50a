import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { ArrayMinSize, ArrayUnique, IsEnum, IsString, Length, Matches } from 'class-validator';
import { Scope } from '../../common/auth/scopes';
import { PRINTABLE } from '../../common/validation/identifiers';


@InputType()
export class CreateApiKeyInput {
  @Field({ description: 'Who holds the key, e.g. "payments-backend". Appears in logs.' })
  @IsString()
  @Length(1, 100)
  @Matches(PRINTABLE, { message: 'name must be printable ASCII without surrounding spaces' })
  name!: string;

  @Field(() => [String], { description: 'Any of client, service, ops, admin.' })
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsEnum(Scope, { each: true, message: 'each scope must be one of client, service, ops, admin' })
  scopes!: Scope[];
}

@ArgsType()
export class ApiKeyIdArgs {
  @Field(() => ID)
  @IsString()
  @Length(1, 64)
  @Matches(PRINTABLE, { message: 'id must be printable ASCII' })
  id!: string;
}
