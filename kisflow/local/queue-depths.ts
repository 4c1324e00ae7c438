import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FlowSpec } from '../config/model.ts';
import type { ProvisionedResources } from './provision.ts';

/** What one of a flow's queues still holds. */
export interface QueueDepth {
  readonly flowId: string;
  /** `input` of a step, that step's `dlq`, or the flow's `output`. */
  readonly kind: 'input' | 'dlq' | 'output';
  readonly step?: number;
  readonly fid?: string;
  /** Waiting to be received (delayed ones included). */
  readonly waiting: number;
  /** Received and neither deleted nor back yet (a batch that was cut off mid-way). */
  readonly inFlight: number;
}

/**
 * The non-empty queues of `flows`, for the report of a stopping `kisflow dev`: what is left for
 * the next start (or, in a DLQ, for `kisflow redrive`).
 *
 * @example
 * for (const q of await queueDepths(sqs, flows, resources)) console.log(describeQueueDepth(q));
 */
export async function queueDepths(
  sqs: SQSClient,
  flows: readonly FlowSpec[],
  resources: ProvisionedResources,
): Promise<QueueDepth[]> {
  const queues: { url: string; depth: Omit<QueueDepth, 'waiting' | 'inFlight'> }[] = [];
  for (const flow of flows) {
    const r = resources.flows[flow.flowId];
    if (r === undefined) continue;
    flow.steps.forEach((spec, step) => {
      const where = { flowId: flow.flowId, step, fid: spec.fid };
      if (r.stepQueues[step]) queues.push({ url: r.stepQueues[step], depth: { ...where, kind: 'input' } });
      if (r.stepDeadLetterQueues[step])
        queues.push({ url: r.stepDeadLetterQueues[step], depth: { ...where, kind: 'dlq' } });
    });
    queues.push({ url: r.outputQueue, depth: { flowId: flow.flowId, kind: 'output' } });
  }
  const depths = await Promise.all(
    queues.map(async ({ url, depth }) => {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesDelayed',
            'ApproximateNumberOfMessagesNotVisible',
          ],
        }),
      );
      const a = out.Attributes ?? {};
      const waiting =
        Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
      return { ...depth, waiting, inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) };
    }),
  );
  return depths.filter((d) => d.waiting + d.inFlight > 0);
}

/** One line: `order_intake step 1 (save_order) input: 3 waiting, 1 in flight`. */
export function describeQueueDepth(d: QueueDepth): string {
  const where =
    d.kind === 'output' ? `${d.flowId} output` : `${d.flowId} step ${d.step} (${d.fid}) ${d.kind}`;
  const inFlight = d.inFlight > 0 ? `, ${d.inFlight} in flight` : '';
  return `${where}: ${d.waiting} message${d.waiting === 1 ? '' : 's'} waiting${inFlight}`;
}
