/**
 * In-memory adapters of the engine's ports: for `kisflow run` and unit tests. Nothing here
 * survives the process unless snapshotted.
 */

export { ManualClock, systemClock } from './clock.ts';
export { type MemoryConnectorSnapshot, MemoryConnectorStore } from './connector-store.ts';
export { consoleLog, createConsoleLog, type LogLevel, silentLog } from './log.ts';
export { type DurationStats, MemoryMetrics } from './metrics.ts';
export { type MemoryStateSnapshot, MemoryStateStore } from './state-store.ts';
export { MemoryTransport } from './transport.ts';
