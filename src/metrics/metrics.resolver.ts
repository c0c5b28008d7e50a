import { Args, Query, Resolver } from '@nestjs/graphql';
import GraphQLJSON from 'graphql-type-json';
import { RequireScope, Scope } from '../access-control';
import { DEFAULT_TIMEFRAME_HOURS, TimeframeArgs } from './dto/timeframe.args';
import { MetricsSummaryService } from './metrics-summary.service';
import { EncryptionMetricsSummary } from './models/encryption-metrics-summary.model';

@Resolver()
export class MetricsResolver {
  constructor(private readonly summary: MetricsSummaryService) {}

  @RequireScope(Scope.OPS)
  @Query(() => GraphQLJSON, {
    description: 'The metrics summary as JSON (shape in the README, same as encryptionMetricsSummary).',
  })
  async getEncryptionMetricsSummary(@Args() { timeframeHours }: TimeframeArgs) {
    // Dates become ISO strings, exactly as the typed query serialises them.
    return JSON.parse(JSON.stringify(await this.summary.summarize(timeframeHours ?? DEFAULT_TIMEFRAME_HOURS))) as object;
  }

  @RequireScope(Scope.OPS)
  @Query(() => EncryptionMetricsSummary, { description: 'The metrics summary, typed.' })
  encryptionMetricsSummary(@Args() { timeframeHours }: TimeframeArgs) {
    return this.summary.summarize(timeframeHours ?? DEFAULT_TIMEFRAME_HOURS);
  }
}
