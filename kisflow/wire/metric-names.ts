import { flowMetricLabel, stepMetricLabel } from '../config/names.ts';

/**
 * Metric names and dimensions: the contract between what steps emit (the engine's row metrics,
 * the Lambda runtime's message metrics) and what the dashboards and alarms in infra read. A
 * CloudWatch metric matches only its exact name and dimension set.
 */

/** Row counts the engine emits per step and batch (kisflow/engine/step-runner.ts). */
export const ROW_METRICS = ['rows_in', 'rows_out', 'rows_rejected', 'rows_dropped'] as const;

/** Message counts the step runtime emits per record. */
export const MESSAGE_METRICS = {
  received: 'messages',
  retried: 'messages_retried',
  deadLettered: 'messages_dead_lettered',
} as const;

/** Powertools' `service` dimension (POWERTOOLS_SERVICE_NAME) on every KisFlow metric. */
export const METRICS_SERVICE = 'kisflow';

/**
 * The dimensions a step's metrics carry inside the runtime: `flow` and `step` (index and fid, so
 * steps running the same fid keep their own series). EMF adds `service`.
 */
export function stepDimensions(flowId: string, step: number, fid: string): Record<string, string> {
  return { flow: flowMetricLabel(flowId), step: stepMetricLabel(step, fid) };
}

/** The full dimension set of a step's metrics in CloudWatch (what a dashboard must name). */
export function stepMetricDimensions(flowId: string, step: number, fid: string): Record<string, string> {
  return { service: METRICS_SERVICE, ...stepDimensions(flowId, step, fid) };
}
