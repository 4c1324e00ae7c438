import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { EnvelopeError, InfrastructureError } from '../errors.ts';
import type { StepBatch } from '../ports.ts';
import { decodeEnvelope } from '../wire/envelope.ts';
import { SQS_MAX_BATCH_ENTRIES } from '../wire/limits.ts';
import { deleteMessages, receiveMessages, setVisibility } from './queue-messages.ts';

export interface TailOptions {
  /** Keep waiting for new messages until `signal` aborts. @default false: stop when the queue is empty */
  readonly follow?: boolean;
  /** Leave the messages in the queue (they are hidden while tailing, then made visible). @default false */
  readonly peek?: boolean;
  /** Stop after this many messages. */
  readonly max?: number;
  readonly signal?: AbortSignal;
  /** Seconds a received message stays hidden (peeked ones are extended while following). @default 60 */
  readonly visibilitySeconds?: number;
  /** Long-poll wait per receive. @default 20 when following, else 1 */
  readonly waitTimeSeconds?: number;
  /** Called for each envelope, in receive order; a message is deleted only after it returns. */
  readonly onBatch: (batch: StepBatch) => void | Promise<void>;
  /** Called for a message that is not an envelope: it is left in the queue. */
  readonly onUndecodable?: (body: string, error: EnvelopeError) => void;
}

export interface TailResult {
  readonly messages: number;
  readonly rows: number;
  readonly undecodable: number;
}

/**
 * Reads a queue of envelopes (a flow's output queue) and hands each batch to `onBatch`, deleting
 * what was handed over (or, with `peek`, leaving everything in place). Without `follow` it stops
 * at the first empty receive; with it, when `signal` aborts (Ctrl-C).
 *
 * @example
 * await tailQueue(sqs, queues.outputQueue, { onBatch: (b) => { for (const row of b.rows) console.log(JSON.stringify(row)); } });
 */
export async function tailQueue(sqs: SQSClient, queueUrl: string, options: TailOptions): Promise<TailResult> {
  const visibility = options.visibilitySeconds ?? 60;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const held: Message[] = [];
  let messages = 0;
  let rows = 0;
  let undecodable = 0;
  // Peeked and undecodable messages stay hidden until we finish, so a receive never returns them
  // twice; while following, their visibility is extended before it runs out.
  const keeper = setInterval(
    () => {
      if (held.length > 0) void setVisibility(sqs, queueUrl, held, visibility).catch(() => {});
    },
    (visibility * 1000) / 2,
  );
  keeper.unref();
  try {
    while (messages < max && !options.signal?.aborted) {
      let got: Message[];
      try {
        got = await receiveMessages(sqs, queueUrl, {
          max: Math.min(SQS_MAX_BATCH_ENTRIES, max - messages),
          visibilitySeconds: visibility,
          waitTimeSeconds: options.waitTimeSeconds ?? (options.follow ? 20 : 1),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      } catch (error) {
        if (options.signal?.aborted) break;
        throw new InfrastructureError(
          'SQS_RECEIVE_FAILED',
          `ReceiveMessage from ${queueUrl} failed: ${(error as Error).name}: ${(error as Error).message}`,
          { queueUrl },
          { cause: error },
        );
      }
      if (got.length === 0) {
        if (!options.follow) break;
        continue;
      }
      const done: Message[] = [];
      for (const message of got) {
        let batch: StepBatch;
        try {
          batch = decodeEnvelope(message.Body ?? '');
        } catch (error) {
          if (!(error instanceof EnvelopeError)) throw error;
          undecodable++;
          held.push(message);
          options.onUndecodable?.(message.Body ?? '', error);
          continue;
        }
        await options.onBatch(batch);
        messages++;
        rows += batch.rows.length;
        (options.peek ? held : done).push(message);
      }
      await deleteMessages(sqs, queueUrl, done);
    }
  } finally {
    clearInterval(keeper);
    await setVisibility(sqs, queueUrl, held, 0);
  }
  return { messages, rows, undecodable };
}
