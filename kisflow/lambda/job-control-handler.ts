import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sendControlMessage } from '../aws/control-queue.ts';
import { deadLetterMessage } from '../aws/dead-letters.ts';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { publishAlert } from '../aws/sns-alerts.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import type { ProjectConfig } from '../config/model.ts';
import { resourceNames, stepKeys } from '../config/names.ts';
import { type ProjectJson, projectFromJson } from '../config/project-json.ts';
import { isRetryable, KisFlowError } from '../errors.ts';
import { JobControl } from '../runs/job-control.ts';
import { decodeControl } from '../wire/control-message.ts';
import { CONTROL_WIRING_ENV, type ControlWiring, parseControlWiring } from '../wire/control-wiring.ts';
import type { LogLevel } from './step-handler.ts';

export interface JobControlHandlerOptions {
  /** The project (or its JSON form, as the bundle embeds it): its jobs are what fires start. */
  readonly project: ProjectJson | ProjectConfig;
  /** @default - JSON of `process.env.KISFLOW_CONTROL_WIRING`, put there by the CDK app */
  readonly wiring?: ControlWiring;
  /** @default - clients for the Lambda's own region and credentials */
  readonly clients?: {
    readonly sqs?: SQSClient;
    readonly dynamodb?: DynamoDBClient;
    readonly sns?: SNSClient;
  };
  /** Where job control's one-line notes go. @default - the Powertools logger, at INFO */
  readonly log?: (line: string) => void;
  /** @default - `POWERTOOLS_LOG_LEVEL`, else INFO */
  readonly logLevel?: LogLevel;
}

export type JobControlHandler = ((event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) & {
  /** The job control it runs (the dev stack's sweep timer calls `sweep()` on it). */
  readonly control: JobControl;
};

function readWiring(): ControlWiring {
  const text = process.env[CONTROL_WIRING_ENV];
  if (!text) {
    throw new KisFlowError(
      'WIRING_MISSING',
      `The job-control handler has no wiring: set ${CONTROL_WIRING_ENV} (the CDK app does) or pass options.wiring.`,
    );
  }
  return parseControlWiring(text);
}

/**
 * The Lambda handler of the deployment's control queue: each record a control message (`fire`,
 * `run-ended`, `retry`, `sweep`) handed to JobControl (kisflow/runs/job-control.ts). Records fail
 * alone (partial batch response); one no retry can fix (not a control message, an unknown job)
 * goes to the control DLQ at once with its reason.
 *
 * @example
 * import project from './project.json' with { type: 'json' };
 * export const handler = createJobControlHandler({ project });
 */
export function createJobControlHandler(options: JobControlHandlerOptions): JobControlHandler {
  const project =
    options.project.funcs instanceof Map
      ? (options.project as ProjectConfig)
      : projectFromJson(options.project as ProjectJson);
  const wiring = options.wiring === undefined ? readWiring() : parseControlWiring(options.wiring);
  const sqs = options.clients?.sqs ?? new SQSClient({});
  const dynamodb = options.clients?.dynamodb ?? new DynamoDBClient({});
  const sns = options.clients?.sns ?? (wiring.alertTopic === undefined ? undefined : new SNSClient({}));
  const logger = new Logger({
    serviceName: 'kisflow',
    persistentKeys: { component: 'job-control' },
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
  });
  const names = resourceNames(wiring.prefix);
  // Queue URLs are `<endpoint>/<account>/<name>` on AWS, LocalStack and fauxqs alike.
  const queueBase = wiring.controlQueue.slice(0, wiring.controlQueue.lastIndexOf('/') + 1);
  const ticks = new SqsTransport({
    sqs,
    // An ordered flow's first queue is FIFO: ticks get message groups like any other batch.
    orderingOf: (flowId) => project.flows.get(flowId)?.tuning.ordering,
    queueUrl: (to) => {
      const flow = project.flows.get(to.flowId);
      const first = flow === undefined ? undefined : stepKeys(flow.steps.map((s) => s.fid))[0];
      const url =
        to.kind === 'step' && to.step === 0 && first !== undefined
          ? queueBase + names.stepQueue(to.flowId, first, flow?.tuning.ordering !== undefined)
          : undefined;
      if (url === undefined) {
        throw new KisFlowError(
          'DESTINATION_NOT_WIRED',
          `Job control may not send to flow '${to.flowId}': the deployed project has no such flow. Redeploy the shared stack.`,
          { flowId: to.flowId },
        );
      }
      return url;
    },
  });
  const control = new JobControl({
    project,
    ledger: new DynamoRunLedger({ dynamodb, tableName: wiring.runsTable }),
    sendTicks: async (flowId, batches) => {
      for (const batch of batches) await ticks.send({ kind: 'step', flowId, step: 0 }, batch);
    },
    sendControl: (message, delaySeconds) =>
      sendControlMessage(sqs, wiring.controlQueue, message, delaySeconds),
    publish: async (alert) => {
      if (sns !== undefined && wiring.alertTopic !== undefined)
        await publishAlert(sns, wiring.alertTopic, alert);
      else logger.warn('job alert (no alert topic wired)', { ...alert });
    },
    log: options.log ?? ((line) => logger.info(line)),
  });

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    try {
      const result = await control.handle(decodeControl(record.body));
      logger.debug('control message handled', { result });
    } catch (error) {
      if (isRetryable(error)) throw error;
      const code = error instanceof KisFlowError ? error.code : 'UNKNOWN';
      const message = error instanceof Error ? error.message : String(error);
      logger.error('control message dead-lettered', { code, message });
      await deadLetterMessage(sqs, wiring.deadLetterQueue, record.body, { code, message });
    }
  };

  const handle = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const settled = await Promise.allSettled(event.Records.map(handleRecord));
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    settled.forEach((s, i) => {
      if (s.status === 'rejected') {
        logger.warn('control message retried', { error: s.reason as Error });
        batchItemFailures.push({ itemIdentifier: event.Records[i]?.messageId ?? '' });
      }
    });
    return { batchItemFailures };
  };
  const handler = middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger))
    .handler(handle) as unknown as JobControlHandler;
  return Object.assign(handler, { control });
}
