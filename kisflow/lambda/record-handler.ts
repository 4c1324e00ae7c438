import type { SQSRecord } from 'aws-lambda';
import type { Delivery } from '../engine/delivery.ts';
import type { StepOutcome } from '../engine/step-runner.ts';
import { EnvelopeError, isRetryable, KisFlowError } from '../errors.ts';
import type { Log, MetricDimensions, Metrics, StepBatch } from '../ports.ts';
import type { DeadLetterReason } from '../wire/dead-letter-record.ts';
import { decodeEnvelope } from '../wire/envelope.ts';
import { MESSAGE_METRICS } from '../wire/metric-names.ts';
import { retryDelaySeconds } from './backoff.ts';
import type { StreamCounter } from './stream-counts.ts';

/** What the per-record decision needs: the step, and the effects it may have on the world. */
export interface RecordHandlerOptions {
  readonly flowId: string;
  /** Index of the step this handler runs. */
  readonly step: number;
  readonly fid: string;
  /** The delivery of this step's flow (it knows every step's key). */
  readonly delivery: Delivery;
  /** Runs the step on a batch (`StepRunner.run`), within `timeoutMs` when given. */
  readonly run: (batch: StepBatch, timeoutMs?: number) => Promise<StepOutcome>;
  /** Writes the message body, unchanged, to this step's DLQ with the reason. */
  readonly deadLetter: (record: SQSRecord, reason: DeadLetterReason) => Promise<void>;
  /** Makes the message visible again in `seconds` (ChangeMessageVisibility). */
  readonly delayRetry: (record: SQSRecord, seconds: number) => Promise<void>;
  /** The input queue's maxReceiveCount: the last receive dead-letters with the reason. */
  readonly maxReceiveCount: number;
  /** The function's `retry_duration`: the first retry's delay, doubled per receive. */
  readonly retryDurationMs: number;
  readonly metrics: Metrics;
  readonly dimensions: MetricDimensions;
  readonly log: Log;
  /**
   * Counts a batch of a continuous source (stream-counts.ts) once delivered or dead-lettered:
   * such a batch's run is none the ledger tracks, so the delivery records nothing for it. A
   * redelivery counts once (by batch id); a count that fails is logged, not retried.
   * @default - not counted
   */
  readonly countStream?: StreamCounter;
}

/**
 * Handles one SQS record: resolves when the message may be deleted, throws to have it retried.
 * `timeoutMs`: what the invocation leaves the step (see `engineTimeoutMs` in step-handler.ts).
 */
export type RecordHandler = (
  record: SQSRecord,
  timeoutMs?: number,
  /** The AWS usage of handling the record so far (cost.ts `recordUsage`), asked when it is recorded. */
  usage?: () => Readonly<Record<string, number>>,
) => Promise<void>;

function describe(err: unknown): { code: string; message: string } {
  if (err instanceof KisFlowError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'Error', message: err.message };
  return { code: 'UNKNOWN', message: String(err) };
}

/**
 * The per-record decision of a step (return = done, throw = retry):
 * 1. decode the envelope and check it is for this step: by its step key when it has one (so a
 *    message sent before a redeploy reaches the step it was meant for, whatever its index is now),
 *    else by index; a message that is not an envelope, or is for a step of another key, fails
 *    permanently;
 * 2. drop the batch when its run was cancelled or timed out (counted as dropped in the ledger);
 *    else run the step and deliver its outcome (next step or output, rejected rows);
 * 3. on failure: an error that declares itself not retryable, or one on the last allowed receive,
 *    dead-letters the message with its code and reason (that is the record's success: the message
 *    leaves the queue with its reason); any other error is retried after the function's
 *    `retry_duration`, doubled per receive (a failed visibility change only leaves the queue's own
 *    timeout in charge). If even the dead letter cannot be written, the record fails and SQS
 *    redelivers it: never lost.
 * Stored results are idempotent per batch id, so a retried record never applies anything twice.
 *
 * @example
 * const handle = createRecordHandler({ flowId, step, fid, delivery, run: (b) => runner.run(b), ... });
 * await handle(record); // throws: leave the message for redelivery
 */
export function createRecordHandler(options: RecordHandlerOptions): RecordHandler {
  const { flowId, step, fid, delivery, metrics, dimensions: dims, log } = options;
  const ownKey = delivery.keyOf(step);

  const address = (batch: StepBatch): StepBatch => {
    if (batch.stepKey === undefined || batch.flowId !== flowId) return batch;
    if (batch.stepKey === ownKey) return batch.step === step ? batch : { ...batch, step };
    const index = delivery.indexOfKey(batch.stepKey);
    throw new EnvelopeError(
      index < 0 ? 'UNKNOWN_STEP_KEY' : 'WRONG_STEP',
      index < 0
        ? `The message is for step '${batch.stepKey}', which flow '${flowId}' no longer has (its steps: ${[...Array(delivery.plan.steps.length).keys()].map((i) => `'${delivery.keyOf(i)}'`).join(', ')}); it was sent before a redeploy removed or renamed that step. Read its rows with \`kisflow dlq ${flowId} --json\` and send them where they belong now.`
        : `The message is for step '${batch.stepKey}' (now step ${index}) but reached the queue of step '${ownKey}' (step ${step}) of flow '${flowId}'; a message is never run by another step's function. Read its rows with \`kisflow dlq ${flowId} --json\` and send them where they belong.`,
      { flowId, step, stepKey: batch.stepKey, ownKey },
    );
  };

  /**
   * A count that fails is logged, never retried: the rows were sent on, and a stream must not stall
   * on its own monitoring (a throttled runs table).
   */
  const countStream = async (batch: StepBatch, counters: Parameters<StreamCounter>[1]): Promise<void> => {
    if (options.countStream === undefined) return;
    try {
      await options.countStream(batch, counters);
    } catch (error) {
      log.warn('stream batch not counted', {
        runId: batch.runId,
        batchId: batch.batchId,
        ...describe(error),
      });
    }
  };

  return async (record, timeoutMs, usage) => {
    metrics.count(MESSAGE_METRICS.received, 1, dims);
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    let batch: StepBatch | undefined;
    try {
      batch = address(decodeEnvelope(record.body));
      const ended = await delivery.ended(batch, usage?.());
      if (ended !== undefined) {
        // Counted as dropped in the ledger by `ended`: the run was cancelled or timed out.
        log.info('batch dropped: its run has ended', {
          runId: batch.runId,
          batchId: batch.batchId,
          status: ended,
          rows: batch.rows.length,
        });
        return;
      }
      const outcome = await options.run(batch, timeoutMs);
      await delivery.deliver(batch, outcome, usage?.());
      const { stats } = outcome;
      await countStream(batch, {
        in: stats.in,
        out: stats.out,
        rejected: stats.rejected,
        dropped: stats.dropped,
      });
    } catch (err) {
      const ids = batch === undefined ? {} : { runId: batch.runId, batchId: batch.batchId };
      const { code, message } = describe(err);
      if (!isRetryable(err) || receiveCount >= options.maxReceiveCount) {
        // A throw here leaves the message for SQS to redeliver. The ledger first: a redelivered
        // dead letter is then a no-op there, where a second DLQ entry could not be taken back.
        if (batch !== undefined) {
          await delivery.deadLettered(batch, usage?.());
          await countStream(batch, { in: batch.rows.length, deadLettered: batch.rows.length });
        }
        await options.deadLetter(record, {
          code,
          message,
          flow: flowId,
          step,
          fid,
          ...(batch === undefined ? {} : { run: batch.runId }),
        });
        metrics.count(MESSAGE_METRICS.deadLettered, 1, dims);
        log.warn('message dead-lettered', {
          messageId: record.messageId,
          code,
          error: message,
          receiveCount,
          ...ids,
        });
        return;
      }
      metrics.count(MESSAGE_METRICS.retried, 1, dims);
      const delay = retryDelaySeconds(options.retryDurationMs, receiveCount);
      log.warn('message will be retried', {
        messageId: record.messageId,
        code,
        error: message,
        receiveCount,
        maxReceiveCount: options.maxReceiveCount,
        retryInSeconds: delay,
        ...ids,
      });
      // On a FIFO queue the delayed message holds its group until then, so a key's later rows wait
      // for it; the records of its group behind it in this batch are released (group-order.ts).
      if (delay !== undefined) {
        try {
          await options.delayRetry(record, delay);
        } catch (visibilityError) {
          // The queue's own visibility timeout then paces the retry: slower or faster, never lost.
          log.warn('could not delay the retry', {
            messageId: record.messageId,
            ...describe(visibilityError),
          });
        }
      }
      throw err;
    }
  };
}
