import { Module } from '@nestjs/common';
import { SecretsModule } from '../common';
import { EncryptionModule } from '../encryption';
import { AuthMaintenance } from './auth-maintenance';
import { AuthResolver } from './auth.resolver';
import { AuthService } from './auth.service';
import { CredentialsRepository } from './credentials.repository';
import { CredentialHasher } from './crypto/credential-hasher';

/** Passcode and transaction PIN; owns UserCredential and ConsumedCiphertext. */
@Module({
  imports: [EncryptionModule, SecretsModule],
  providers: [CredentialHasher, CredentialsRepository, AuthService, AuthMaintenance, AuthResolver],
  exports: [AuthMaintenance],
})
export class AuthModule {}
