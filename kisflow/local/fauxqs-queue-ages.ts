import { KisFlowError } from '../errors.ts';

/**
 * The age of the oldest message of queues served by fauxqs (the SQS emulator of `kisflow dev`).
 * SQS's GetQueueAttributes has no such attribute (AWS publishes it only as the CloudWatch metric
 * ApproximateAgeOfOldestMessage) and fauxqs 1.x implements none either; fauxqs does serve a
 * non-destructive inspection of a queue's messages at `GET /_fauxqs/queues/<name>`, each with its
 * `sentTimestamp`. Reading it from the queue itself keeps one source of truth: the dev process
 * needs no second bookkeeping of what it received.
 *
 * The inspection returns the messages' bodies: fine for dev backlogs, which is all it serves.
 */

interface InspectedMessage {
  readonly sentTimestamp?: number;
}
interface InspectedQueue {
  readonly messages?: {
    readonly ready?: readonly InspectedMessage[];
    readonly inflight?: readonly { readonly message?: InspectedMessage }[];
  };
}

/** The server at this endpoint is not fauxqs (no inspection endpoint): the age is unknown. */
export class NoQueueInspection extends KisFlowError {
  constructor(message: string, context: { endpoint: string; queue: string; status?: number }) {
    super('NO_QUEUE_INSPECTION', message, context);
  }
}

/**
 * Milliseconds since the oldest ready or in-flight message of the queue `name` was sent, 0 for an
 * empty queue (CloudWatch's reading too). Delayed messages are not counted: they are not due.
 *
 * @example await fauxqsOldestMessageAge('http://127.0.0.1:4566', 'kisflow-orders--verify', Date.now())
 */
export async function fauxqsOldestMessageAge(
  sqsEndpoint: string,
  name: string,
  now: number,
): Promise<number> {
  const url = new URL(`/_fauxqs/queues/${encodeURIComponent(name)}`, sqsEndpoint);
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new NoQueueInspection(`${url.origin} answers ${response.status} to a fauxqs queue inspection`, {
      endpoint: url.origin,
      queue: name,
      status: response.status,
    });
  }
  let queue: InspectedQueue | null;
  try {
    queue = (await response.json()) as InspectedQueue | null;
  } catch {
    queue = null;
  }
  if (typeof queue?.messages !== 'object' || queue.messages === null) {
    throw new NoQueueInspection(`${url.origin} does not answer a fauxqs queue inspection`, {
      endpoint: url.origin,
      queue: name,
    });
  }
  const sent = [
    ...(queue.messages.ready ?? []),
    ...(queue.messages.inflight ?? []).map((e) => e.message ?? {}),
  ].reduce(
    (oldest, m) => (typeof m.sentTimestamp === 'number' ? Math.min(oldest, m.sentTimestamp) : oldest),
    Infinity,
  );
  return sent === Infinity ? 0 : Math.max(0, now - sent);
}
