import type { Clock } from '../ports.ts';
import type { FunctionCache } from './function.ts';

interface Entry {
  readonly value: unknown;
  readonly expiresAt: number;
}

/**
 * A function's cache: a map that lives as long as its StepRunner (a Lambda container, a
 * `kisflow run`), with optional per-entry expiry read from the engine's clock. Expired entries are
 * dropped when next read.
 */
export class StepCache implements FunctionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get<T = unknown>(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== Number.POSITIVE_INFINITY && entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  set(key: string, value: unknown, ttlMs?: number): void {
    const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#clock.now() + ttlMs;
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
