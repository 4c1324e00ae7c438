import type { ConnSpec } from '../config/model.ts';
import type { Row } from '../ports.ts';

/** What a connector implementation does for one connector of its type (KisFlow's CaaS). */
export interface ConnectorDriver {
  /** Stores rows; `batchId` lets the driver make a redelivered batch a no-op. */
  save(rows: readonly Row[], info: { readonly batchId: string }): Promise<void>;
  /** For each row, the stored rows that match it (same order as the input). */
  load(rows: readonly Row[]): Promise<Row[][]>;
}

export interface ConnectorImplementation {
  readonly kind: 'kisflow.connector';
  readonly type: string;
  /** Called once per connector per process (KisFlow's CaaSInit). */
  readonly create: (conn: ConnSpec) => ConnectorDriver | Promise<ConnectorDriver>;
}

/**
 * Registers the implementation of a connector `type` other than `dynamodb`.
 *
 * @example
 * export default defineConnector('redis', (conn) => ({
 *   async save(rows) { await redis.rpush(conn.cid, ...rows.map((r) => JSON.stringify(r))); },
 *   async load(rows) { return rows.map(() => []); },
 * }));
 */
export function defineConnector(
  type: string,
  create: (conn: ConnSpec) => ConnectorDriver | Promise<ConnectorDriver>,
): ConnectorImplementation {
  return { kind: 'kisflow.connector', type, create };
}

export function isConnectorImplementation(value: unknown): value is ConnectorImplementation {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'kisflow.connector' &&
    typeof (value as { type?: unknown }).type === 'string' &&
    typeof (value as { create?: unknown }).create === 'function'
  );
}
