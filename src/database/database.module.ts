import { Global, Module } from '@nestjs/common';
import { AdvisoryLock } from './advisory-lock';
import { PrismaService } from './prisma.service';

@Global()
@Module({ providers: [PrismaService, AdvisoryLock], exports: [PrismaService, AdvisoryLock] })
export class DatabaseModule {}
