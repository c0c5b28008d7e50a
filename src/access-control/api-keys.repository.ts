import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { ApiKey } from '../generated/prisma/client';

export type StoredApiKey = ApiKey;

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  insert(key: { name: string; keyHash: string; prefix: string; scopes: string[]; createdAt: Date }) {
    return this.prisma.apiKey.create({ data: key });
  }

  /** Inserts unless a key with that hash exists (several replicas may bootstrap at once). */
  async insertIfAbsent(key: {
    name: string;
    keyHash: string;
    prefix: string;
    scopes: string[];
    createdAt: Date;
  }): Promise<boolean> {
    const inserted = await this.prisma.$executeRaw`
      INSERT INTO "ApiKey" (id, name, "keyHash", prefix, scopes, "createdAt")
      VALUES (gen_random_uuid(), ${key.name}, ${key.keyHash}, ${key.prefix}, ${key.scopes}, ${key.createdAt})
      ON CONFLICT ("keyHash") DO NOTHING`;
    return inserted === 1;
  }

  findByHash(keyHash: string): Promise<StoredApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { keyHash } });
  }

  countActiveWithScope(scope: string): Promise<number> {
    return this.prisma.apiKey.count({ where: { revokedAt: null, scopes: { has: scope } } });
  }

  list(): Promise<StoredApiKey[]> {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /** True when a key that was not yet revoked is revoked now. */
  async revoke(id: string, now: Date): Promise<boolean> {
    const { count } = await this.prisma.apiKey.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: now },
    });
    return count === 1;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.prisma.apiKey.count({ where: { id } })) === 1;
  }

  async touch(id: string, now: Date): Promise<void> {
    await this.prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: now } });
  }
}
