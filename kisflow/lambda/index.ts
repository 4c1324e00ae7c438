/**
 * The Lambda runtime: the handler factory each flow step's bundle calls, and the wiring contract
 * with the CDK app. Bundles should import `kisflow/lambda/step-handler.ts` directly.
 */

export { type StepWiring, WIRING_ENV } from '../wire/step-wiring.ts';
export { MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from './backoff.ts';
export { EmfMetrics } from './emf-metrics.ts';
export {
  createStepHandler,
  type LogLevel,
  type StepHandler,
  type StepHandlerOptions,
} from './step-handler.ts';
