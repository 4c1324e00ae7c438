/**
 * Inside a flow's worker thread: loads the flow's functions and runs each step's real Lambda
 * handler for the batches the parent's pollers send. A function that exits, crashes or hangs
 * takes down only this thread (see flow-worker.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Context, KinesisStreamEvent, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../aws/clients.ts';
import { type ProjectJson, projectFromJson } from '../config/project-json.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import { loadFunctions } from '../engine/index.ts';
import { KisFlowError } from '../errors.ts';
import { createSourceHandler, type SourceHandler } from '../lambda/source-handler.ts';
import { createStepHandler, type LogLevel, type StepHandler } from '../lambda/step-handler.ts';
import type { MetricDimensions, Metrics } from '../ports.ts';
import type { StepWiring } from '../wire/step-wiring.ts';
import { mappedLocally } from './mapped-sources.ts';

/** What the parent gives a flow worker. */
export interface FlowWorkerData {
  readonly project: ProjectJson;
  readonly flowId: string;
  readonly wirings: readonly StepWiring[];
  readonly endpoints: { readonly sqsEndpoint: string; readonly dynamodbEndpoint: string };
  readonly logLevel: LogLevel;
}

/** A batch for step `step`, with the invocation's deadline (epoch ms, set when it is sent). */
export interface InvokeRequest {
  readonly t: 'invoke';
  readonly id: number;
  readonly step: number;
  /** A step's SQS batch, or (`source`) the records or messages the first step's mapping read. */
  readonly event: SQSEvent | KinesisStreamEvent;
  /** For the first step's source handler (a Kinesis- or queue-fed flow), not its queue's step handler. */
  readonly source?: boolean;
  readonly functionName: string;
  readonly requestId: string;
  readonly deadline: number;
}

export type WorkerReply =
  | { readonly t: 'ready' }
  | { readonly t: 'exiting'; readonly code: number }
  | { readonly t: 'crashed'; readonly message: string }
  | { readonly t: 'load-failed'; readonly code: string; readonly message: string }
  | { readonly t: 'result'; readonly id: number; readonly response: unknown }
  | { readonly t: 'failed'; readonly id: number; readonly code: string; readonly message: string }
  | { readonly t: 'metrics'; readonly metrics: readonly Metric[] };

/** One metric call, made in the thread and counted in the parent. */
export interface Metric {
  readonly kind: 'count' | 'duration';
  readonly name: string;
  readonly value: number;
  readonly dimensions: MetricDimensions;
}

const port = parentPort;
if (port === null) throw new Error('flow-worker-thread.ts runs only as a worker thread.');
const data = workerData as FlowWorkerData;
const post = (reply: WorkerReply) => port.postMessage(reply);

// A function that calls process.exit stops there, as a Lambda runtime would: in a thread, exit would
// let the rest of the code run on while the thread winds down (commits, sends, dead letters). The
// thread tells the parent and blocks; the parent ends it and fails the batch.
// An uncaught exception (a throw in a stray callback) is reported the same way, with its message.
const freeze = (): never => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error('unreachable: the thread is ended by its parent');
};
process.exit = ((code?: number | string | null) => {
  post({ t: 'exiting', code: Number(code ?? process.exitCode ?? 0) });
  return freeze();
}) as typeof process.exit;
process.on('uncaughtException', (err) => {
  post({ t: 'crashed', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  freeze();
});

const describe = (err: unknown) =>
  err instanceof KisFlowError
    ? { code: err.code, message: err.message }
    : {
        code: err instanceof Error ? err.name || 'Error' : 'UNKNOWN',
        message: String((err as Error)?.message ?? err),
      };

// Metrics are counted in the parent, which serves /metrics for every flow: sent in one message
// before each reply (a message per call costs more than the calls), and within a second otherwise.
let pendingMetrics: Metric[] = [];
const flushMetrics = () => {
  if (pendingMetrics.length === 0) return;
  post({ t: 'metrics', metrics: pendingMetrics });
  pendingMetrics = [];
};
setInterval(flushMetrics, 1000).unref();
const metrics: Metrics = {
  count: (name, value, dimensions) => pendingMetrics.push({ kind: 'count', name, value, dimensions }),
  duration: (name, value, dimensions) => pendingMetrics.push({ kind: 'duration', name, value, dimensions }),
};

function context(request: InvokeRequest): Context {
  const unsupported = () => {
    throw new Error('The callback-style context methods are not supported; return a promise.');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: request.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${request.functionName}`,
    // As the flow deploys (tuning.memory): what a run's estimated GB-seconds are counted at.
    memoryLimitInMB: String(memoryMb),
    awsRequestId: request.requestId,
    logGroupName: `/aws/lambda/${request.functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

let handlers: StepHandler[];
/** A Kinesis- or queue-fed flow's first step, as Lambda's mapping invokes it. */
let source: SourceHandler | undefined;
let memoryMb = 256;
try {
  const project = projectFromJson(data.project);
  const flow = project.flows.get(data.flowId);
  if (flow === undefined) throw new KisFlowError('UNKNOWN_FLOW', `There is no flow '${data.flowId}'.`);
  memoryMb = flow.tuning.memoryMb;
  const registry = await loadFunctions(project, { flowIds: [data.flowId] });
  const types = new Set([...project.conns.values()].map((c) => c.type));
  const connectors: ConnectorImplementation[] = [...types].flatMap(
    (type) => registry.getConnector(type) ?? [],
  );
  const clients = createAwsClients(data.endpoints);
  handlers = flow.steps.map((spec, step) =>
    createStepHandler({
      project,
      flowId: data.flowId,
      step,
      fn: registry.getFunction(spec.fid),
      connectors,
      wiring: data.wirings[step] as StepWiring,
      clients,
      metrics,
      logLevel: data.logLevel,
    }),
  );
  const first = flow.steps[0];
  if (mappedLocally(flow) && first !== undefined) {
    source = createSourceHandler({
      project,
      flowId: data.flowId,
      fn: registry.getFunction(first.fid),
      connectors,
      wiring: data.wirings[0] as StepWiring,
      clients,
      metrics,
      logLevel: data.logLevel,
    });
  }
} catch (err) {
  post({ t: 'load-failed', ...describe(err) });
  freeze();
}

/** The invocation a request asks for; undefined when there is no such handler. */
const invoke = (request: InvokeRequest): Promise<unknown> | undefined =>
  request.source
    ? source?.(request.event as KinesisStreamEvent, context(request))
    : handlers[request.step]?.(request.event as SQSEvent, context(request));

port.on('message', (request: InvokeRequest) => {
  const running = invoke(request);
  if (running === undefined) {
    post({
      t: 'failed',
      id: request.id,
      code: 'UNKNOWN_STEP',
      message: request.source
        ? `Flow '${data.flowId}' has no source a local mapping reads.`
        : `No step ${request.step}.`,
    });
    return;
  }
  running.then(
    (response) => {
      flushMetrics();
      post({ t: 'result', id: request.id, response });
    },
    (err: unknown) => {
      flushMetrics();
      post({ t: 'failed', id: request.id, ...describe(err) });
    },
  );
});
post({ t: 'ready' });
