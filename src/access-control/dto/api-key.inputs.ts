import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { ArrayMinSize, ArrayUnique, IsEnum } from 'class-validator';
import { IsIdentifier } from '../../common';
import { Scope } from '../scopes';

@InputType()
export class CreateApiKeyInput {
  @Field({ description: 'Who holds the key, e.g. "payments-backend". Appears in logs.' })
  @IsIdentifier('name', 100)
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
  @IsIdentifier('id', 64)
  id!: string;
}
