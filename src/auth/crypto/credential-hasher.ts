import { randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { hash, parseOptions, verify, type Algorithm, type Options } from '@node-rs/argon2';
import { APP_CONFIG, type AppConfig } from '../../config';
import { AUTH_PEPPER } from './pepper.provider';

// Algorithm.Argon2id: a const enum, which is not there at run time when compiled file by file.
const ARGON2ID: Algorithm = 2;

/**
 * argon2id with the pepper as argon2's own secret input (K), off the event loop.
 * Without the pepper the stored PHC string cannot be recomputed, so a copy of the
 * table alone does not let anyone try the 10^4 to 10^6 PINs.
 */
@Injectable()
export class CredentialHasher implements OnModuleInit {
  private readonly options: Options;
  private dummyHash!: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(AUTH_PEPPER) pepper: Buffer) {
    const { memoryKib, timeCost, parallelism } = config.auth.argon2;
    this.options = { algorithm: ARGON2ID, memoryCost: memoryKib, timeCost, parallelism, secret: pepper };
  }

  /** Made at start-up, so that even the first unknown user costs one verification and no more. */
  async onModuleInit() {
    this.dummyHash = await this.hash(randomBytes(16).toString('hex'));
  }

  /** PHC string: `$argon2id$v=19$m=...,t=...,p=...$salt$hash`. */
  hash(secret: string): Promise<string> {
    return hash(secret, this.options);
  }

  verify(stored: string, secret: string): Promise<boolean> {
    return verify(stored, secret, this.options);
  }

  /** True when `stored` was made with other argon2 parameters than the configured ones. */
  isOutdated(stored: string): boolean {
    const used = parseOptions(stored);
    return (
      used.memoryCost !== this.options.memoryCost ||
      used.timeCost !== this.options.timeCost ||
      used.parallelism !== this.options.parallelism
    );
  }

  /** The same work as a real verification, for a user with no credential: always false. */
  async verifyAgainstNothing(secret: string): Promise<false> {
    await verify(this.dummyHash, secret, this.options);
    return false;
  }
}
