import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RequireScope, Scope } from '../access-control';
import { DeviceIdArgs, GenerateEncryptionKeyInput, KeyIdArgs } from './dto/keys.inputs';
import { KeysService } from './keys.service';
import { EncryptionKey } from './models/encryption-key.model';

@Resolver(() => EncryptionKey)
export class KeysResolver {
  constructor(private readonly keys: KeysService) {}

  @RequireScope(Scope.CLIENT)
  @Mutation(() => EncryptionKey, { description: 'A new key pair for the device; it becomes its active key.' })
  generateEncryptionKey(@Args('input') input: GenerateEncryptionKeyInput) {
    return this.keys.generate(input.deviceId, input.appVersion ?? null);
  }

  @RequireScope(Scope.CLIENT)
  @Query(() => EncryptionKey, { nullable: true, description: 'Null when unknown or deleted.' })
  encryptionKey(@Args() { keyId }: KeyIdArgs) {
    return this.keys.findById(keyId);
  }

  @RequireScope(Scope.CLIENT)
  @Query(() => EncryptionKey, { nullable: true, description: "The device's newest usable key." })
  activeEncryptionKey(@Args() { deviceId }: DeviceIdArgs) {
    return this.keys.findActiveForDevice(deviceId);
  }
}
