import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { IsOptional } from 'class-validator';
import { IsIdentifier, KEY_ID_MAX } from '../../common';

@InputType()
export class GenerateEncryptionKeyInput {
  @Field()
  @IsIdentifier('deviceId', 128)
  deviceId!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsIdentifier('appVersion', 64)
  appVersion?: string | null;
}

@ArgsType()
export class KeyIdArgs {
  @Field(() => ID)
  @IsIdentifier('keyId', KEY_ID_MAX)
  keyId!: string;
}

@ArgsType()
export class DeviceIdArgs {
  @Field()
  @IsIdentifier('deviceId', 128)
  deviceId!: string;
}
