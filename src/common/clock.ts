import { Injectable } from '@nestjs/common';

/** The service's only source of "now", so tests can move time instead of waiting. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
