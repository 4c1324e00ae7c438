import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { deadLetterMessage } from '../aws/dead-letter-send.ts';
import { DynamoConnectorStore } from '../aws/dynamodb-connector-store.ts';
import { DynamoStateStore } from '../aws/dynamodb-state-store.ts';
import { decodeEnvelope } from '../aws/envelope.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import type { ProjectConfig } from '../config/model.ts';
import { flowMetricLabel, stepMetricLabel } from '../config/names.ts';
// project-json.ts, not config/index.ts: the index pulls in the YAML loader, which a Lambda never needs.
import { type ProjectJson, projectFromJson } from '../config/project-json.ts';
import { type StepWiring, WIRING_ENV } from '../config/wiring.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import type { KisFunction } from '../engine/function.ts';
import { FlowPlan } from '../engine/plan.ts';
import { Registry } from '../engine/registry.ts';
import { StepRunner } from '../engine/step-runner.ts';
import { ConnectorError, EnvelopeError, KisFlowError, OversizeError, StepError } from '../errors.ts';
import type { Destination, MetricDimensions, Metrics, StateStore, StepBatch } from '../ports.ts';
import { retryDelaySeconds } from './backoff.ts';
import { EmfMetrics } from './emf-metrics.ts';
import { powertoolsLog } from './powertools-log.ts';
import { coalescingSqsClient } from './send-coalescer.ts';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface StepHandlerOptions {
  /** The project (or its JSON form, as a bundle embeds it). */
  readonly project: ProjectJson | ProjectConfig;
  readonly flowId: string;
  /** 0-based index of the step this handler runs. */
  readonly step: number;
  /** The step's function (the bundle imports it statically). */
  readonly fn: KisFunction;
  /** Implementations of connector types other than `dynamodb` the step uses. */
  readonly connectors?: readonly ConnectorImplementation[];
  /** @default - JSON of `process.env.KISFLOW_WIRING`, put there by the CDK app */
  readonly wiring?: StepWiring;
  /** @default - clients for the Lambda's own region and credentials */
  readonly clients?: { readonly sqs?: SQSClient; readonly dynamodb?: DynamoDBClient };
  /**
   * Where the step's metrics go.
   * @default - Powertools Metrics (CloudWatch EMF) in `wiring.metricsNamespace`, flushed per invocation
   */
  readonly metrics?: Metrics;
  /** @default - `POWERTOOLS_LOG_LEVEL`, else INFO */
  readonly logLevel?: LogLevel;
}

/** The Lambda handler of one flow step: an SQS event in, the messages to retry out. */
export type StepHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** Errors a retry cannot fix: the message goes to the step's DLQ at once, with the reason. */
/** Failures a retry cannot fix: the message is dead-lettered with its reason at once. */
const PERMANENT_CODES = new Set(['KEY_TOO_LONG', 'ITEM_TOO_LARGE', 'STATE_TOO_LARGE', 'STATE_KEY_TOO_LONG']);

function isPermanent(err: unknown): err is KisFlowError {
  return (
    err instanceof EnvelopeError ||
    err instanceof OversizeError ||
    err instanceof StepError ||
    (err instanceof KisFlowError && PERMANENT_CODES.has(err.code))
  );
}

function describe(err: unknown): { code: string; message: string } {
  if (err instanceof KisFlowError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'Error', message: err.message };
  return { code: 'UNKNOWN', message: String(err) };
}

function readWiring(): StepWiring {
  const text = process.env[WIRING_ENV];
  if (!text) {
    throw new KisFlowError(
      'WIRING_MISSING',
      `The step handler has no wiring: set ${WIRING_ENV} to the StepWiring JSON (the CDK app does) or pass options.wiring.`,
    );
  }
  try {
    return JSON.parse(text) as StepWiring;
  } catch (err) {
    throw new KisFlowError(
      'WIRING_INVALID',
      `${WIRING_ENV} is not JSON: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
}

/** A state store for steps deployed without a state table: a stateful function fails loudly. */
const unwiredState: StateStore = {
  read: () => Promise.reject(noStateTable()),
  write: () => Promise.reject(noStateTable()),
};

function noStateTable(): ConnectorError {
  return new ConnectorError(
    'NO_STATE_TABLE',
    'The function uses ctx.state but this step was deployed without a state table (StepWiring.stateTable).',
  );
}

/**
 * Builds the Lambda handler of one flow step. Everything expensive (the plan, the StepRunner, SDK
 * clients, stores, transport, Powertools objects) is made here, once per container; an invocation
 * only processes its records.
 *
 * Per record (Powertools BatchProcessor, partial batch response; return = done, throw = retry):
 * 1. decode the envelope; a malformed one (not JSON, another version, wrong shape, meant for
 *    another step) is dead-lettered at once with its reason and never retried;
 * 2. run the step; user-function errors are already isolated to rows by the engine;
 * 3. send the emitted rows to the next step's queue (or the flow's output queue), packed, with
 *    batch ids derived from the input's, so a redelivery sends the same ids again; rows too large
 *    for any message go to this step's DLQ (`ROW_TOO_LARGE`); rejected rows go to this step's DLQ
 *    with their reasons;
 * 4. on an infrastructure failure (a store, a queue): on the last allowed receive
 *    (`maxReceiveCount`) the message is dead-lettered with the reason; before that its visibility
 *    is set to the function's `retry_duration`, doubled per receive, and the record fails.
 * Stored results are idempotent per batch id, so a retried record never applies anything twice.
 *
 * @example
 * // the bundled entry of step 2 of flow "orders"
 * import fn from '../functions/price_order.ts';
 * import project from './project.json' with { type: 'json' };
 * export const handler = createStepHandler({ project, flowId: 'orders', step: 2, fn });
 */
export function createStepHandler(options: StepHandlerOptions): StepHandler {
  const { flowId, step } = options;
  const project =
    options.project.funcs instanceof Map
      ? (options.project as ProjectConfig)
      : projectFromJson(options.project as ProjectJson);
  const wiring = options.wiring ?? readWiring();
  const plan = FlowPlan.build(project, flowId);
  const planned = plan.steps[step];
  if (planned === undefined) {
    throw new StepError(
      'UNKNOWN_STEP',
      `Flow '${flowId}' has no step ${step}; its steps are 0..${plan.steps.length - 1}.`,
      {
        flowId,
        step,
      },
    );
  }
  const { fid } = planned;
  const registry = new Registry().addFunction(fid, options.fn);
  for (const impl of options.connectors ?? []) registry.addConnector(impl);

  const sqs = options.clients?.sqs ?? new SQSClient({});
  const dynamodb = options.clients?.dynamodb ?? new DynamoDBClient({});
  const logger = new Logger({
    serviceName: 'kisflow',
    persistentKeys: { flow: flowId, step, fid },
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
  });
  // The engine's dimensions exactly: EMF buffers one dimension set per invocation.
  const dims: MetricDimensions = Object.freeze({
    flow: flowMetricLabel(flowId),
    step: stepMetricLabel(step, fid),
  });
  const emf = options.metrics === undefined ? new EmfMetrics(wiring.metricsNamespace, dims) : undefined;
  const metrics: Metrics = options.metrics ?? (emf as EmfMetrics);

  const conns = project.conns;
  const store = new DynamoConnectorStore({
    dynamodb,
    tableName: (cid) => {
      const table = wiring.connectorTables[cid];
      if (table === undefined) {
        throw new ConnectorError(
          'CONNECTOR_NOT_WIRED',
          `Step '${fid}' of flow '${flowId}' has no table for connector '${cid}' in its wiring.`,
          {
            cid,
          },
        );
      }
      return table;
    },
    ttlSeconds: (cid) => conns.get(cid)?.ttlSeconds,
  });
  const state =
    wiring.stateTable === undefined
      ? unwiredState
      : new DynamoStateStore({ dynamodb, tableName: wiring.stateTable });
  const runner = new StepRunner(plan, step, registry, { store, state, metrics, log: powertoolsLog(logger) });

  const queueUrl = (to: Destination): string => {
    const url =
      to.kind === 'step'
        ? wiring.stepQueues[String(to.step)]
        : to.kind === 'output'
          ? wiring.outputQueue
          : wiring.deadLetterQueue;
    if (url === undefined) {
      throw new KisFlowError(
        'DESTINATION_NOT_WIRED',
        `Step '${fid}' of flow '${flowId}' may not send to ${to.kind === 'output' ? 'the output queue' : `step ${to.kind === 'step' ? to.step : '?'}`}: its wiring has no queue for it.`,
        { flowId, step, to },
      );
    }
    return url;
  };
  const transport = new SqsTransport({
    // The records of an invocation run in parallel: their sends share SendMessageBatch requests.
    sqs: coalescingSqsClient(sqs),
    queueUrl,
    maxMessageBytes: wiring.maxMessageBytes,
    // Rows this step cannot fit into a message stay with this step: its DLQ is the only one it may write.
    deadLetterQueueUrl: () => wiring.deadLetterQueue,
    fidOf: (_flow, s) => plan.steps[s]?.fid,
  });

  // The input queue's URL (for ChangeMessageVisibility): from the wiring, else looked up once.
  let inputQueue: Promise<string> | undefined =
    wiring.inputQueue === undefined ? undefined : Promise.resolve(wiring.inputQueue);
  const inputQueueUrl = (record: SQSRecord): Promise<string> => {
    inputQueue ??= (async () => {
      const [, , , , account, name] = record.eventSourceARN.split(':');
      const out = await sqs.send(
        new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
      );
      return out.QueueUrl ?? '';
    })();
    inputQueue.catch(() => {
      inputQueue = undefined;
    });
    return inputQueue;
  };

  const deadLetter = async (record: SQSRecord, err: unknown, batch?: StepBatch): Promise<void> => {
    const { code, message } = describe(err);
    await deadLetterMessage(sqs, wiring.deadLetterQueue, record.body, {
      code,
      message,
      flow: flowId,
      step,
      fid,
    });
    metrics.count('messages_dead_lettered', 1, dims);
    logger.warn('message dead-lettered', {
      messageId: record.messageId,
      code,
      error: message,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
      ...(batch === undefined ? {} : { runId: batch.runId, batchId: batch.batchId }),
    });
  };

  const forward = async (batch: StepBatch): Promise<void> => {
    const outcome = await runner.run(batch);
    const sends: Promise<void>[] = [];
    // The packer derives message i's batch id from (input batch id, destination step, i).
    if (outcome.next !== null) {
      sends.push(
        transport.send(
          { kind: 'step', flowId, step: outcome.next },
          {
            flowId,
            step: outcome.next,
            runId: batch.runId,
            batchId: batch.batchId,
            rows: outcome.emitted,
            meta: outcome.meta,
          },
        ),
      );
    } else if (outcome.emitted.length > 0) {
      // Output envelopes carry the step index one past the last: they are addressed to no step.
      sends.push(
        transport.send(
          { kind: 'output', flowId },
          {
            flowId,
            step: plan.steps.length,
            runId: batch.runId,
            batchId: batch.batchId,
            rows: outcome.emitted,
            meta: outcome.meta,
          },
        ),
      );
    }
    if (outcome.rejected.length > 0) {
      sends.push(transport.reject({ kind: 'rejected', flowId, step }, outcome.rejected, batch));
    }
    const settled = await Promise.allSettled(sends);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  };

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    metrics.count('messages', 1, dims);
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    let batch: StepBatch | undefined;
    try {
      batch = decodeEnvelope(record.body);
      await forward(batch);
    } catch (err) {
      if (isPermanent(err) || receiveCount >= wiring.maxReceiveCount) {
        // Dead-lettering is this record's success: the message leaves the queue with its reason.
        // If even that fails, the throw below leaves the message for SQS to redeliver.
        await deadLetter(record, err, batch);
        return;
      }
      metrics.count('messages_retried', 1, dims);
      const delay = retryDelaySeconds(planned.func.retryDurationMs, receiveCount);
      logger.warn('message will be retried', {
        messageId: record.messageId,
        ...describe(err),
        receiveCount,
        maxReceiveCount: wiring.maxReceiveCount,
        retryInSeconds: delay,
        ...(batch === undefined ? {} : { runId: batch.runId, batchId: batch.batchId }),
      });
      if (delay !== undefined) {
        try {
          await sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: await inputQueueUrl(record),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: delay,
            }),
          );
        } catch (visibilityError) {
          // The queue's own visibility timeout then paces the retry: slower or faster, never lost.
          logger.warn('could not delay the retry', {
            messageId: record.messageId,
            ...describe(visibilityError),
          });
        }
      }
      throw err;
    }
  };

  // Lambda runs one invocation per container at a time, but the local poller invokes a handler
  // concurrently: a BatchProcessor holds its batch between register() and response(), so each
  // concurrent invocation takes its own from this pool (Lambda only ever needs one).
  const processors: BatchProcessor[] = [new BatchProcessor(EventType.SQS)];
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processor = processors.pop() ?? new BatchProcessor(EventType.SQS);
    try {
      // A batch whose every record failed is reported per record too, never thrown as a whole:
      // the same response either way, without Powertools' FullBatchFailureError in the logs.
      return await processPartialResponse(event, recordHandler, processor, {
        context,
        throwOnFullBatchFailure: false,
      });
    } finally {
      processors.push(processor);
    }
  };

  const handler = middy<SQSEvent, SQSBatchResponse>().use(injectLambdaContext(logger));
  if (emf !== undefined) handler.use(logMetrics(emf.powertools));
  return handler.handler(handle) as unknown as StepHandler;
}
