import type { DiscoveryService, MetadataScanner } from '@nestjs/core';

export interface ProviderMethod {
  /** The provider instance this app made. */
  instance: Record<string, unknown>;
  name: string;
  /** The method as its class declares it (decorator metadata sits on it). */
  method: (...args: unknown[]) => unknown;
}

/** Every method of every provider instance of the app: for code that acts on method decorators. */
export function providerMethods(discovery: DiscoveryService, scanner: MetadataScanner): ProviderMethod[] {
  return discovery.getProviders().flatMap((wrapper) => {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance || typeof instance !== 'object') return [];
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    return scanner.getAllMethodNames(prototype).map((name) => ({
      instance,
      name,
      method: prototype[name] as (...args: unknown[]) => unknown,
    }));
  });
}
