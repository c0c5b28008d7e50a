import { Module } from '@nestjs/common';
import { EncryptionModule } from '../encryption/encryption.module';
import { AuthResolver } from './auth.resolver';
import { AuthService } from './auth.service';
import { CredentialsRepository } from './credentials.repository';
import { CredentialHasher } from './crypto/credential-hasher';
import { pepperProvider } from './crypto/pepper.provider';

@Module({
  imports: [EncryptionModule],
  providers: [pepperProvider, CredentialHasher, CredentialsRepository, AuthService, AuthResolver],
})
export class AuthModule {}
