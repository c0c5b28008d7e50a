import { Args, Mutation, Resolver } from '@nestjs/graphql';
import GraphQLJSON from 'graphql-type-json';
import { RequireScope, Scope } from '../access-control';
import { DeviceIdArgs, EncryptionKey, KeysService } from '../keys';
import { RevokeEncryptionKeyArgs } from './dto/key-rotation.args';
import { KeyRotationService } from './key-rotation.service';

@Resolver()
export class KeyRotationResolver {
  constructor(
    private readonly rotation: KeyRotationService,
    private readonly keys: KeysService,
  ) {}

  @RequireScope(Scope.ADMIN)
  @Mutation(() => GraphQLJSON, {
    description: 'Runs the daily lifecycle job now and returns its counts (skipped: true when another instance is running it).',
  })
  runKeyRotation() {
    return this.rotation.run('operator');
  }

  @RequireScope(Scope.ADMIN)
  @Mutation(() => EncryptionKey, {
    description: "A new key for the device (counted against its rate limit); its older usable keys become DEPRECATED.",
  })
  rotateDeviceKey(@Args() { deviceId }: DeviceIdArgs) {
    return this.keys.rotateDeviceKey(deviceId);
  }

  @RequireScope(Scope.ADMIN)
  @Mutation(() => EncryptionKey, { description: 'Refuses the key for everything from now on. Revoking twice changes nothing.' })
  revokeEncryptionKey(@Args() { keyId, reason }: RevokeEncryptionKeyArgs) {
    return this.keys.revoke(keyId, reason);
  }
}
