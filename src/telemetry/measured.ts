import { AsyncLocalStorage } from 'node:async_hooks';
import type { MetricTags } from './metric-event';
import type { OperationName } from './operations';

export const MEASURED_OPERATION = 'kms:measuredOperation';

export interface MeasuredSpec {
  /** The operation's name, or how to tell it from the arguments (one method serving several). */
  operation: OperationName | ((...args: never[]) => OperationName);
  /** Tags known from the arguments before the method runs (e.g. the key id asked for). */
  tags?: (...args: never[]) => MetricTags;
}

/**
 * Marks a provider method as a measured operation: each call gives one
 * EncryptionMetric row (success, or failure with the error's code and reason) with
 * its duration. The telemetry module wraps the marked methods when the app starts;
 * the method body stays business code and adds what it learns with tagOperation().
 */
export function Measured<A extends unknown[]>(
  operation: OperationName | ((...args: A) => OperationName),
  tags?: (...args: A) => MetricTags,
): MethodDecorator {
  return (_target, _name, descriptor) => {
    Reflect.defineMetadata(MEASURED_OPERATION, { operation, tags } as MeasuredSpec, descriptor.value as object);
    return descriptor;
  };
}

const currentTags = new AsyncLocalStorage<MetricTags>();

/** Runs `work` as one measured operation's scope: tagOperation() inside it fills `tags`. */
export function inOperationScope<T>(tags: MetricTags, work: () => Promise<T>): Promise<T> {
  return currentTags.run(tags, work);
}

/**
 * Adds what the running operation has learnt (its key, its device) to its metric
 * row. The innermost measured operation gets them; outside any, a no-op.
 */
export function tagOperation(tags: MetricTags) {
  const current = currentTags.getStore();
  if (!current) return;
  if (tags.keyId !== undefined) current.keyId = tags.keyId;
  if (tags.deviceId !== undefined) current.deviceId = tags.deviceId;
  if (tags.refusal !== undefined) current.refusal = tags.refusal;
}
