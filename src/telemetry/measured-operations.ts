import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { providerMethods } from '../common';
import { MEASURED_OPERATION, MeasuredSpec } from './measured';
import { MetricsRecorder } from './metrics.recorder';
import type { OperationName } from './operations';

/**
 * Finds every provider method marked @Measured and wraps it, on the instance this
 * app made, with the app's recorder: several apps in one process (tests) each
 * measure into their own.
 */
@Injectable()
export class MeasuredOperations implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly recorder: MetricsRecorder,
  ) {}

  onModuleInit() {
    for (const { instance, name, method } of providerMethods(this.discovery, this.scanner)) {
      const spec = Reflect.getMetadata(MEASURED_OPERATION, method) as MeasuredSpec | undefined;
      if (spec) instance[name] = this.measuring(instance, method as (...args: unknown[]) => Promise<unknown>, spec);
    }
  }

  private measuring(instance: object, method: (...args: unknown[]) => Promise<unknown>, spec: MeasuredSpec) {
    const tagsOf = spec.tags as ((...args: unknown[]) => object) | undefined;
    const nameOf = spec.operation as OperationName | ((...args: unknown[]) => OperationName);
    return (...args: unknown[]) =>
      this.recorder.measure(
        typeof nameOf === 'function' ? nameOf(...args) : nameOf,
        { ...tagsOf?.(...args) },
        () => method.apply(instance, args),
      );
  }
}
