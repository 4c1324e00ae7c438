// Over the usual size on purpose: this is the composition root of a step's Lambda (wiring check,
// clients, stores, transport, ledger, run-ended announcements, FIFO group order, middy); the
// per-record decision it composes lives in record-handler.ts, with its own unit tests.
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sendControlMessage } from '../aws/control-queue.ts';
import { deadLetterMessage } from '../aws/dead-letters.ts';
import { DynamoConnectorStore } from '../aws/dynamodb-connector-store.ts';
import { DynamoStateStore } from '../aws/dynamodb-state-store.ts';
import { changeVisibility, queueUrlOfArn, setVisibility } from '../aws/queue-messages.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import type { ProjectConfig } from '../config/model.ts';
import { stepKeys } from '../config/names.ts';
// project-json.ts, not config/index.ts: the index pulls in the YAML loader, which a Lambda never needs.
import { type ProjectJson, projectFromJson } from '../config/project-json.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import { Delivery } from '../engine/delivery.ts';
import type { KisFunction } from '../engine/function.ts';
import { FlowPlan } from '../engine/plan.ts';
import { Registry } from '../engine/registry.ts';
import { StepRunner } from '../engine/step-runner.ts';
import { ConnectorError, KisFlowError, StepError } from '../errors.ts';
import type { Destination, MetricDimensions, Metrics, StateStore } from '../ports.ts';
import { recordUsage } from '../runs/cost.ts';
import { CONTROL_VERSION } from '../wire/control-message.ts';
import { destinationQueue } from '../wire/destination.ts';
import { stepDimensions } from '../wire/metric-names.ts';
import { parseWiring, type StepWiring, WIRING_ENV } from '../wire/step-wiring.ts';
import { EmfMetrics } from './emf-metrics.ts';
import { runInGroupOrder } from './group-order.ts';
import { powertoolsLog } from './powertools-log.ts';
import { createRecordHandler } from './record-handler.ts';
import { sharedLedger } from './shared-ledger.ts';
import { streamCounter } from './stream-counts.ts';

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

function readWiring(): StepWiring {
  const text = process.env[WIRING_ENV];
  if (!text) {
    throw new KisFlowError(
      'WIRING_MISSING',
      `The step handler has no wiring: set ${WIRING_ENV} to the StepWiring JSON (the CDK app does) or pass options.wiring.`,
    );
  }
  return parseWiring(text);
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
 * Time kept before Lambda's own deadline: 2 s, or a fifth of what is left when that is less (a
 * 1 s timeout still leaves the step 0.8 s). The engine's watchdog may fire up to a tenth of the
 * timeout (at most 1 s) late, so at least 1 s, or 12 %, remains for the dead letter and the answer.
 */
export const LAMBDA_TIMEOUT_MARGIN_MS = 2_000;

/**
 * How long a step may run in this invocation: the flow's timeout, cut to what Lambda leaves minus
 * a margin (LAMBDA_TIMEOUT_MARGIN_MS), so the engine's own `TIMEOUT` fires first and the record handler decides what follows
 * (a StepError that is not retried: the message is dead-lettered at once with the reason, as
 * `kisflow run` rejects the batch's rows and `kisflow dev` dead-letters it, since a batch that ran out
 * of time once mostly does again and each retry costs a full timeout). Only a function that blocks
 * the event loop, so that no timer can fire, meets Lambda's hard timeout: that invocation fails
 * and SQS redelivers the message, up to max_receives, like any crashed invocation.
 */
export function engineTimeoutMs(flowTimeoutMs: number, context: Partial<Context> | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (remaining === undefined || !Number.isFinite(remaining)) return flowTimeoutMs;
  const margin = Math.min(LAMBDA_TIMEOUT_MARGIN_MS, remaining / 5);
  return Math.max(1, Math.min(flowTimeoutMs, remaining - margin));
}

/**
 * Builds the Lambda handler of one flow step. Everything expensive (the plan, the StepRunner, SDK
 * clients, stores, transport, Powertools objects) is made here, once per container; an invocation
 * only processes its records.
 *
 * The records of an invocation run in parallel, each alone (partial batch response: one bad
 * message never fails its neighbours). What happens to one record — decode, address by step key,
 * run, deliver, retry with backoff or dead-letter with the reason — is `createRecordHandler`
 * (record-handler.ts); this function only builds what it runs on: the wiring (validated here, so a
 * wrong deployment fails at init), the SQS transport, the stores, logs and metrics.
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
  const wiring = options.wiring === undefined ? readWiring() : parseWiring(options.wiring);
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
  const dims: MetricDimensions = Object.freeze(stepDimensions(flowId, step, fid));
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

  // Step queues by index; a wiring may name them by step key instead (the key survives a redeploy).
  const keys = stepKeys(plan.steps.map((s) => s.fid));
  const stepQueues = keys.map((key, i) => wiring.stepQueues[String(i)] ?? wiring.stepQueues[key]);
  const queues = {
    stepQueues,
    outputQueue: wiring.outputQueue,
    deadLetterQueues: { [step]: wiring.deadLetterQueue },
  };
  const queueUrl = (to: Destination): string => {
    const url = destinationQueue(queues, to);
    if (url === undefined) {
      // Permanent: the deployment grants this step no queue for it; retrying cannot change that.
      throw new KisFlowError(
        'DESTINATION_NOT_WIRED',
        `Step '${fid}' of flow '${flowId}' may not send to ${to.kind === 'output' ? 'the output queue' : `step ${to.kind === 'step' ? `${to.step} ('${plan.steps[to.step]?.fid ?? '?'}')` : '?'}`}: its wiring has no queue for it. Redeploy the flow's stack (every step may send to its own flow's step queues), then redrive.`,
        { flowId, step, to },
      );
    }
    return url;
  };
  const transport = new SqsTransport({
    sqs,
    queueUrl,
    maxMessageBytes: wiring.maxMessageBytes,
    // Rows this step cannot fit into a message stay with this step: its DLQ is the only one it may write.
    deadLetterQueueUrl: () => wiring.deadLetterQueue,
    fidOf: (_flow, s) => plan.steps[s]?.fid,
    orderingOf: (id) => (id === flowId ? plan.flow.tuning.ordering : undefined),
  });

  // The input queue's URL (for ChangeMessageVisibility): from the wiring, else looked up once.
  let inputQueue: Promise<string> | undefined =
    wiring.inputQueue === undefined ? undefined : Promise.resolve(wiring.inputQueue);
  const inputQueueUrl = (record: SQSRecord): Promise<string> => {
    if (inputQueue === undefined) {
      const lookup = queueUrlOfArn(sqs, record.eventSourceARN);
      // A failed lookup is tried again with the next retry.
      lookup.catch(() => {
        if (inputQueue === lookup) inputQueue = undefined;
      });
      inputQueue = lookup;
    }
    return inputQueue;
  };

  // The batch is done either way: a lost announcement is found by job control's repair pass.
  const announceEnd = (queueUrl: string, runId: string): Promise<void> =>
    sendControlMessage(sqs, queueUrl, { v: CONTROL_VERSION, kind: 'run-ended', run: runId }).catch(
      (error: unknown) =>
        logger.warn('run ended; telling job control failed, its repair pass will', { runId, error }),
    );

  const runs = wiring.runsTable === undefined ? undefined : sharedLedger(dynamodb, wiring.runsTable);
  const handleRecord = createRecordHandler({
    flowId,
    step,
    fid,
    delivery: new Delivery(
      plan,
      transport,
      runs === undefined
        ? {}
        : {
            ledger: runs,
            // The SQS transport packs the same way: the run counts the messages it will send.
            messagesOf: (batch) => transport.messageCount(batch),
            ...(wiring.controlQueue === undefined
              ? {}
              : { onRunEnded: (runId: string) => announceEnd(wiring.controlQueue as string, runId) }),
          },
    ),
    run: (batch, timeoutMs) => runner.run(batch, timeoutMs === undefined ? {} : { timeoutMs }),
    deadLetter: async (record, reason) => {
      await deadLetterMessage(sqs, wiring.deadLetterQueue, record.body, reason);
    },
    delayRetry: async (record, seconds) => {
      await changeVisibility(sqs, await inputQueueUrl(record), record.receiptHandle, seconds);
    },
    maxReceiveCount: wiring.maxReceiveCount,
    retryDurationMs: planned.func.retryDurationMs,
    metrics,
    dimensions: dims,
    log: powertoolsLog(logger),
    ...(runs === undefined ? {} : { countStream: streamCounter(runs) }),
  });

  // Records run in parallel (their sends share SendMessageBatch requests in the transport), those
  // of one FIFO message group in order; each fails alone (partial batch response), so one bad
  // message never fails its neighbours (on FIFO, only the records of its group behind it).
  const flowTimeoutMs = plan.flow.tuning.timeoutSeconds * 1000;
  const release = async (skipped: readonly SQSRecord[]) => {
    const first = skipped[0];
    if (first === undefined) return;
    const messages = skipped.map((r) => ({ ReceiptHandle: r.receiptHandle }));
    await setVisibility(sqs, await inputQueueUrl(first), messages, 0);
  };
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const timeoutMs = engineTimeoutMs(flowTimeoutMs, context);
    const began = Date.now();
    const memoryMb = Number(context.memoryLimitInMB) || 0;
    const usageOf = (record: SQSRecord) => () =>
      recordUsage({
        bodyBytes: Buffer.byteLength(record.body, 'utf8'),
        records: event.Records.length,
        memoryMb,
        elapsedMs: Date.now() - began,
      });
    const failed = await runInGroupOrder(
      event.Records,
      (record) => handleRecord(record, timeoutMs, usageOf(record)),
      release,
    );
    const batchItemFailures = event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({
      itemIdentifier: r.messageId,
    }));
    return { batchItemFailures };
  };

  const handler = middy<SQSEvent, SQSBatchResponse>().use(injectLambdaContext(logger));
  if (emf !== undefined) handler.use(logMetrics(emf.powertools));
  return handler.handler(handle) as unknown as StepHandler;
}
