import { REQUIRED_SCOPE, Scope } from '../common/auth/scopes';
import { KeyRotationResolver } from './key-rotation.resolver';

describe('KeyRotationResolver', () => {
  it.each(['runKeyRotation', 'rotateDeviceKey', 'revokeEncryptionKey'] as const)('%s needs the admin scope', (name) => {
    expect(Reflect.getMetadata(REQUIRED_SCOPE, KeyRotationResolver.prototype[name])).toBe(Scope.ADMIN);
  });
});
