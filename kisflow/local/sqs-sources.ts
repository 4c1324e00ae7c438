import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FlowSpec } from '../config/model.ts';
import { flowMetricLabel } from '../config/names.ts';
import type { Metrics } from '../ports.ts';
import { sqsMessageFilter } from './event-filter.ts';
import { type Poller, type SqsEventHandler, startPoller } from './poller.ts';
import type { ProvisionedResources } from './provision.ts';

/** Messages of a source queue a flow's filter criteria dropped on purpose (deleted unread). */
export const SQS_FILTERED = 'sqs_messages_filtered';

/** The flows of a project fed by an existing SQS queue (`source.sqs`). */
export function sqsFedFlows(flows: readonly FlowSpec[]): FlowSpec[] {
  return flows.filter((f) => f.source?.sqs !== undefined);
}

export interface SqsSourcesOptions {
  readonly sqs: SQSClient;
  /** Flows with `source.sqs` (others are ignored). */
  readonly flows: readonly FlowSpec[];
  readonly resources: ProvisionedResources;
  /** The function a flow's mapping invokes: its first step's source handler. */
  readonly handlerFor: (flow: FlowSpec) => SqsEventHandler;
  /** Where messages dropped by the filter criteria are counted (`sqs_messages_filtered`). */
  readonly metrics: Metrics;
  readonly log: (line: string) => void;
  /** @default - the poller's own */
  readonly waitTimeSeconds?: number;
}

/**
 * Plays each SQS-fed flow's mapping on its local source queue (provisionProject made it, named as
 * the ARN names it): the flow's `source.sqs` batch size, window, concurrency and filters; events
 * name the configured ARN, so the first step's source handler tells them from its own queue's. As
 * in AWS, a failed message comes back after its visibility timeout and the queue's redrive policy
 * moves it to the DLQ in the end.
 */
export function startSqsSources(options: SqsSourcesOptions): Poller[] {
  const { sqs, resources, metrics, log } = options;
  return sqsFedFlows(options.flows).map((flow) => {
    const source = flow.source?.sqs as NonNullable<NonNullable<FlowSpec['source']>['sqs']>;
    const filter = sqsMessageFilter(source.filters);
    return startPoller({
      sqs,
      queueUrl: resources.flows[flow.flowId]?.sourceQueue as string,
      eventSourceArn: source.queueArn,
      handler: options.handlerFor(flow),
      batchSize: source.batchSize ?? 10,
      batchingWindowSeconds: source.batchingWindowSeconds ?? 0,
      maxConcurrency: source.maxConcurrency ?? 2,
      timeoutSeconds: flow.tuning.timeoutSeconds,
      functionName: `${flow.flowId}-0-${flow.steps[0]?.fid ?? 'source'}`,
      ...(filter === undefined ? {} : { filter }),
      onFiltered: (count) => metrics.count(SQS_FILTERED, count, { flow: flowMetricLabel(flow.flowId) }),
      ...(options.waitTimeSeconds === undefined ? {} : { waitTimeSeconds: options.waitTimeSeconds }),
      onError: (error) =>
        log(`kisflow dev: flow ${flow.flowId} source queue: ${(error as Error).message ?? error}`),
    });
  });
}
