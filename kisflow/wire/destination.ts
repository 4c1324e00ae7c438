import type { Destination } from '../ports.ts';

/** Queue URLs by step index: an array (provisioned resources) or a record keyed by index (a step's wiring). */
export type QueuesByStep = { readonly [step: number]: string | undefined };

/** The queues of one flow a sender knows about. */
export interface FlowQueueUrls {
  readonly stepQueues: QueuesByStep;
  readonly outputQueue?: string | undefined;
  readonly deadLetterQueues: QueuesByStep;
}

/**
 * The queue a destination is sent to: a step's input queue, the flow's output queue, or a
 * step's DLQ for its rejected rows. `undefined` when the sender was given no such queue (a
 * deployment that grants no access to it). The one mapping of the Lambda handler, `kisflow dev`
 * and `kisflow send`.
 *
 * @example
 * destinationQueue({ stepQueues: ['q0', 'q1'], deadLetterQueues: ['d0', 'd1'] }, { kind: 'step', flowId: 'f', step: 1 }); // 'q1'
 */
export function destinationQueue(queues: FlowQueueUrls, to: Destination): string | undefined {
  switch (to.kind) {
    case 'step':
      return queues.stepQueues[to.step];
    case 'output':
      return queues.outputQueue;
    case 'rejected':
      return queues.deadLetterQueues[to.step];
  }
}
