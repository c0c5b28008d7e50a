import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database';

/** An API key as stored, without its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: string[];
  /** The first characters of the key, to recognise it in a list. */
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** With the stored hash, for the service to bring an old hash up to date; never leaves the module. */
export interface StoredApiKey extends ApiKeyRecord {
  keyHash: string;
}

interface NewApiKey {
  name: string;
  keyHash: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
}

const RECORD = {
  id: true,
  name: true,
  scopes: true,
  prefix: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const;

/** The ApiKey table (owned by access control). */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  insert(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.prisma.apiKey.create({ data: key, select: RECORD });
  }

  /** Inserts unless a key with that hash exists (several replicas may bootstrap at once). */
  async insertIfAbsent(key: NewApiKey): Promise<boolean> {
    const inserted = await this.prisma.$executeRaw`
      INSERT INTO "ApiKey" (id, name, "keyHash", prefix, scopes, "createdAt")
      VALUES (gen_random_uuid(), ${key.name}, ${key.keyHash}, ${key.prefix}, ${key.scopes}, ${key.createdAt})
      ON CONFLICT ("keyHash") DO NOTHING`;
    return inserted === 1;
  }

  /** The key stored under any of these hashes (one indexed lookup). */
  findByAnyHash(keyHashes: string[]): Promise<StoredApiKey | null> {
    return this.prisma.apiKey.findFirst({ where: { keyHash: { in: keyHashes } }, select: { ...RECORD, keyHash: true } });
  }

  /** Replaces a key's stored hash, unless another process did it first. */
  async replaceHash(id: string, oldHash: string, newHash: string): Promise<void> {
    await this.prisma.apiKey.updateMany({ where: { id, keyHash: oldHash }, data: { keyHash: newHash } });
  }

  countActiveWithScope(scope: string): Promise<number> {
    return this.prisma.apiKey.count({ where: { revokedAt: null, scopes: { has: scope } } });
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' }, select: RECORD });
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
