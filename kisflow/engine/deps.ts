import type { Clock, ConnectorStore, Log, Metrics, StateStore } from '../ports.ts';

/**
 * The world a step runs against. Lambda passes the DynamoDB stores and EMF metrics; `kisflow run`
 * and tests pass the memory adapters.
 */
export interface EngineDeps {
  /** Storage of connectors of type `dynamodb`. */
  readonly store: ConnectorStore;
  /** Keyed state of stateful functions. */
  readonly state: StateStore;
  /** Time for cache expiry; default the system clock. */
  readonly clock?: Clock;
  /** Per-step metrics (dimensions `flow`, `step`); default none. */
  readonly metrics?: Metrics;
  /** Default: silent. */
  readonly log?: Log;
}

/** The system clock; the engine's default (the memory adapters export the same as `systemClock`). */
export const defaultClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const nothing = (): void => {};

/** Drops everything; the engine's default log. */
export const noLog: Log = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/** A log that adds `fields` (flow, step, batch ids) to every entry. */
export function logWith(log: Log, fields: () => Record<string, unknown>): Log {
  if (log === noLog) return log;
  const entry = (data?: Record<string, unknown>) =>
    data === undefined ? fields() : { ...fields(), ...data };
  return {
    debug: (message, data) => log.debug(message, entry(data)),
    info: (message, data) => log.info(message, entry(data)),
    warn: (message, data) => log.warn(message, entry(data)),
    error: (message, data) => log.error(message, entry(data)),
  };
}
