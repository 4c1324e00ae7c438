/**
 * The engine: flow plans, step execution (modes, actions, params, isolation of failing rows),
 * the in-process flow runner. It knows nothing of AWS, middy or CDK: runtimes give it stores and
 * a transport through the ports.
 */

export type { DropCode, DroppedRows } from './batch-scope.ts';
export type { ConnectorDriver, ConnectorImplementation } from './connector.ts';
export { defineConnector, isConnectorImplementation } from './connector.ts';
export { DEFAULT_MAX_HOPS, Delivery, type DeliveryOptions, HOP_LIMIT } from './delivery.ts';
export type { EngineDeps } from './deps.ts';
export type {
  Connector,
  FlowInfo,
  FunctionCache,
  FunctionContext,
  FunctionHandler,
  FunctionMetrics,
  KeyedState,
  KisFunction,
} from './function.ts';
export { defineFunction, isKisFunction } from './function.ts';
export { keyOf, sortOf } from './keys.ts';
export { type LoadFunctionsOptions, loadFunctions } from './load-functions.ts';
export { FlowPlan, type PlannedStep } from './plan.ts';
export { Registry } from './registry.ts';
export { MAX_ROW_DEPTH, rowProblem } from './row-values.ts';
export { type FlowResult, type RunFlowOptions, runFlow, type StepStats } from './run-flow.ts';
export { type StepOutcome, StepRunner, type StepRunnerOptions, type StepRunOptions } from './step-runner.ts';
