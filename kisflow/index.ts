/**
 * KisFlow's public API: what function and connector modules import as `'kisflow'`.
 * Runtimes and adapters are on subpath exports (`kisflow/config`, `kisflow/lambda`, ...).
 */

export type { Params, ParamValue } from './config/model.ts';
export type { ConnectorDriver, ConnectorImplementation } from './engine/connector.ts';
export { defineConnector } from './engine/connector.ts';
export type {
  Connector,
  FunctionCache,
  FunctionContext,
  FunctionHandler,
  KeyedState,
  KisFunction,
  Shard,
} from './engine/function.ts';
export { defineFunction } from './engine/function.ts';
export {
  ConfigError,
  ConnectorError,
  InfrastructureError,
  KisFlowError,
  RowRejectedError,
  StepError,
} from './errors.ts';
export type { RejectedRow, Row } from './ports.ts';
