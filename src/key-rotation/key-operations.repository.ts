import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { StoredKey } from '../encryption/keys.repository';

export type DeviceKey = Pick<
  StoredKey,
  'id' | 'appVersion' | 'expiresAt' | 'deprecated' | 'deprecatedAt' | 'revokedAt'
>;

/** The operator mutations' statements over ClientEncryptionKey. */
@Injectable()
export class KeyOperationsRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string): Promise<StoredKey | null> {
    return this.prisma.clientEncryptionKey.findUnique({ where: { id } });
  }

  /** The device's keys, newest first (activeEncryptionKey's order), without key material. */
  findKeysOfDevice(deviceId: string): Promise<DeviceKey[]> {
    return this.prisma.clientEncryptionKey.findMany({
      where: { deviceId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      select: { id: true, appVersion: true, expiresAt: true, deprecated: true, deprecatedAt: true, revokedAt: true },
    });
  }

  /** Deprecates those of `ids` that are still neither deprecated nor revoked. */
  async deprecateKeys(ids: string[], now: Date): Promise<number> {
    const { count } = await this.prisma.clientEncryptionKey.updateMany({
      where: { id: { in: ids }, deprecated: false, revokedAt: null },
      data: { deprecated: true, deprecatedAt: now, updatedAt: now },
    });
    return count;
  }

  /** Revokes the key unless it already is (the first revocation stands); null when it is gone. */
  async revoke(id: string, now: Date, reason: string): Promise<StoredKey | null> {
    const [revoked] = await this.prisma.clientEncryptionKey.updateManyAndReturn({
      where: { id, revokedAt: null },
      data: { revokedAt: now, revokedReason: reason, updatedAt: now },
    });
    return revoked ?? this.findById(id);
  }
}
