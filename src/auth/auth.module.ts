import { Module } from '@nestjs/common';
import { EncryptionModule } from '../encryption';
import { AuthMaintenance } from './auth-maintenance';
import { AuthResolver } from './auth.resolver';
import { AuthService } from './auth.service';
import { CredentialsRepository } from './credentials.repository';
import { CredentialHasher } from './crypto/credential-hasher';
import { pepperProvider } from './crypto/pepper.provider';

/** Passcode and transaction PIN; owns UserCredential and ConsumedCiphertext. */
@Module({
  imports: [EncryptionModule],
  providers: [pepperProvider, CredentialHasher, CredentialsRepository, AuthService, AuthMaintenance, AuthResolver],
  exports: [AuthMaintenance],
})
export class AuthModule {}
