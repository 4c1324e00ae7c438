import type { FlowSpec, ProjectConfig } from './model.ts';

/**
 * Deliveries of a message before SQS dead-letters it, when neither the flow nor the function says:
 * enough to ride out a throttle, a timeout or a failed cold start, as AWS advises for queues that
 * feed Lambda.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export const DEFAULT_MAX_RECEIVES = 5;

/**
 * The redrive `maxReceiveCount` of a step's input queue: the function's `option.max_receives`,
 * else the flow's `tuning.max_receives`, else {@link DEFAULT_MAX_RECEIVES}. This budget is for
 * infrastructure failures only; a row whose function throws is retried in place `retry_times`
 * times by the engine. The CDK stacks and `kisflow dev` both call this, so they agree.
 *
 * @example
 * maxReceiveCount(project, project.flows.get('orders')!, 'save_order'); // 5
 */
export function maxReceiveCount(project: ProjectConfig, flow: FlowSpec, fid: string): number {
  return project.funcs.get(fid)?.maxReceives ?? flow.tuning.maxReceives ?? DEFAULT_MAX_RECEIVES;
}
