import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { MetricEvent } from './metric-event';

@Injectable()
export class MetricsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insertMany(events: MetricEvent[]): Promise<void> {
    await this.prisma.encryptionMetric.createMany({ data: events });
  }
}
