import { ArgsType, Field, Int } from '@nestjs/graphql';
import { IsInt, Max, Min } from 'class-validator';

export const DEFAULT_TIMEFRAME_HOURS = 24;
/** 30 days. */
export const MAX_TIMEFRAME_HOURS = 720;

@ArgsType()
export class TimeframeArgs {
  @Field(() => Int, {
    defaultValue: DEFAULT_TIMEFRAME_HOURS,
    description: `Hours back from now, 1 to ${MAX_TIMEFRAME_HOURS}.`,
  })
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEFRAME_HOURS)
  timeframeHours: number = DEFAULT_TIMEFRAME_HOURS;
}
