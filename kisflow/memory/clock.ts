import type { Clock } from '../ports.ts';

/** Real time: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Time that moves only when told (tests). `sleep(ms)` moves it forward by `ms` and resolves at
 * once, so code that waits runs instantly and deterministically.
 *
 * @example
 * const clock = new ManualClock(0);
 * clock.advance(60_000); // a minute later
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  set(epochMs: number): void {
    this.#now = epochMs;
  }

  sleep(ms: number): Promise<void> {
    this.#now += Math.max(0, ms);
    return Promise.resolve();
  }
}
