import { ArgsType, Field, Int } from '@nestjs/graphql';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const DEFAULT_TIMEFRAME_HOURS = 24;
/** 30 days. */
export const MAX_TIMEFRAME_HOURS = 720;

@ArgsType()
export class TimeframeArgs {
  /** The contract: `timeframeHours: Int = 24`, so an explicit null means the default too. */
  @Field(() => Int, {
    nullable: true,
    defaultValue: DEFAULT_TIMEFRAME_HOURS,
    description: `Hours back from now, 1 to ${MAX_TIMEFRAME_HOURS}; null or absent: ${DEFAULT_TIMEFRAME_HOURS}.`,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEFRAME_HOURS)
  timeframeHours: number | null = DEFAULT_TIMEFRAME_HOURS;
}
