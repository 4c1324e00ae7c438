import { unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Emulators, startEmulators } from '../../localstack/emulators.ts';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import { devEndpointsFile, readDevEndpoints, writeDevEndpoints } from '../cli/endpoints.ts';
import { loadProject } from '../config/index.ts';
import type { FlowSpec, ProjectConfig } from '../config/model.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import { loadFunctions, type Registry } from '../engine/index.ts';
import { KisFlowError } from '../errors.ts';
import { createStepHandler, type LogLevel } from '../lambda/step-handler.ts';
import { MemoryMetrics } from '../memory/index.ts';
import { destinationQueue } from '../wire/destination.ts';
import type { StepWiring } from '../wire/step-wiring.ts';
import { type Poller, startPoller } from './poller.ts';
import { type PrometheusServer, startPrometheusServer } from './prometheus.ts';
import { type ProvisionedResources, provisionProject } from './provision.ts';
import { type Scheduler, startScheduler } from './scheduler.ts';

export interface DevStackOptions {
  /** The flows directory (YAML), relative to `root`; not read when `project` is given. */
  readonly dir: string;
  /** The project root: function modules resolve against it, `.kisflow/dev.json` is written in it. */
  readonly root: string;
  /** Resource name prefix. @default 'kisflow' */
  readonly prefix?: string;
  /** Visibility timeout of the step queues. @default - 6 × each flow's timeout, as in AWS */
  readonly visibilityTimeoutSeconds?: number;
  /** Human-readable progress and errors (one line each). @default - dropped */
  readonly log?: (line: string) => void;
  /**
   * Servers to use instead of starting the embedded emulators (or `AWS_ENDPOINT_URL`), e.g. ones
   * another process owns.
   */
  readonly endpoints?: { readonly sqsEndpoint: string; readonly dynamodbEndpoint: string };
  /** Level of the handlers' Powertools JSON logs on stdout. @default 'WARN' */
  readonly logLevel?: LogLevel;
  /** Seconds a poller's long poll waits. @default 2 */
  readonly waitTimeSeconds?: number;
  /** A project built in code (`buildProject`) instead of the YAML under `dir`. */
  readonly project?: ProjectConfig;
  /** Functions registered in code; the ones it lacks are loaded from their modules. */
  readonly registry?: Registry;
}

export interface DevStack {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly resources: ProvisionedResources;
  /** The enabled flows being served. */
  readonly flowIds: readonly string[];
  /** Every step's metrics (what `/metrics` serves). */
  readonly metrics: MemoryMetrics;
  /** The Prometheus endpoint, when `global.prometheus_enable`. */
  readonly metricsUrl?: string;
  readonly scheduler: Scheduler;
  /** Stops the scheduler, lets in-flight batches finish, stops the servers it started. */
  stop(): Promise<void>;
}

/** The wiring a deployed step would get from the CDK app, for the locally provisioned resources. */
export function devWiring(
  project: ProjectConfig,
  flow: FlowSpec,
  step: number,
  resources: ProvisionedResources,
): StepWiring {
  const queues = resources.flows[flow.flowId];
  if (queues === undefined)
    throw new KisFlowError('NOT_PROVISIONED', `Flow '${flow.flowId}' was not provisioned.`);
  return {
    inputQueue: queues.stepQueues[step],
    // Any step may be a jumpTo target, so every step may send to every step's queue.
    stepQueues: Object.fromEntries(queues.stepQueues.map((url, i) => [String(i), url])),
    outputQueue: queues.outputQueue,
    deadLetterQueue: queues.stepDeadLetterQueues[step] as string,
    connectorTables: resources.connectorTables,
    stateTable: resources.stateTable,
    maxReceiveCount: queues.maxReceiveCounts[step] as number,
    maxMessageBytes: flow.tuning.maxMessageBytes,
    metricsNamespace: project.global.metricsNamespace,
  };
}

function connectorImplementations(project: ProjectConfig, registry: Registry): ConnectorImplementation[] {
  const types = new Set([...project.conns.values()].map((c) => c.type));
  return [...types].flatMap((type) => registry.getConnector(type) ?? []);
}

/**
 * `kisflow dev`: the whole project on local AWS-compatible servers. Loads the project and its
 * functions, starts the embedded emulators (or uses `AWS_ENDPOINT_URL` / `options.endpoints`),
 * provisions every enabled flow's queues, DLQs and tables, and runs each step's real Lambda
 * handler (`createStepHandler`) behind a local poller with the flow's tuning (batch size, window,
 * concurrency), the jobs on a local timer, and Prometheus text at `global.prometheus_serve`
 * when `prometheus_enable`. Writes `.kisflow/dev.json` so `kisflow send/tail/dlq/redrive` find it.
 *
 * @throws ConfigError for a project with mistakes; UsageError when a port is taken.
 * @example
 * const stack = await startDevStack({ dir: 'flows', root: process.cwd() });
 * // kisflow send order_intake --input rows.jsonl
 * await stack.stop();
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const root = resolve(options.root);
  const prefix = options.prefix ?? 'kisflow';
  const log = options.log ?? (() => {});
  const project = options.project ?? (await loadProject(resolve(root, options.dir), { root }));
  const flows = [...project.flows.values()].filter((f) => f.enabled);
  const registry = await loadFunctions(project, {
    flowIds: flows.map((f) => f.flowId),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        log(`kisflow dev: stopping: ${(err as Error).message}`);
      }
    }
  };
  try {
    let emulators: Emulators;
    if (options.endpoints) {
      emulators = { ...options.endpoints, external: true, stop: async () => {} };
    } else {
      emulators = await startEmulators();
      cleanups.push(() => emulators.stop());
    }
    const clients: AwsClients = createAwsClients({
      sqsEndpoint: emulators.sqsEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
    });
    cleanups.push(() => destroyAwsClients(clients));
    const resources = await provisionProject(project, clients, {
      prefix,
      ...(options.visibilityTimeoutSeconds === undefined
        ? {}
        : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
    });

    const metrics = new MemoryMetrics();
    const connectors = connectorImplementations(project, registry);
    const pollers: Poller[] = [];
    // Pollers stop before the servers: in-flight batches still need SQS and DynamoDB to finish.
    cleanups.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });
    for (const flow of flows) {
      for (const [index, spec] of flow.steps.entries()) {
        const wiring = devWiring(project, flow, index, resources);
        const handler = createStepHandler({
          project,
          flowId: flow.flowId,
          step: index,
          fn: registry.getFunction(spec.fid),
          connectors,
          wiring,
          clients,
          metrics,
          logLevel: options.logLevel ?? 'WARN',
        });
        pollers.push(
          startPoller({
            sqs: clients.sqs,
            queueUrl: wiring.inputQueue as string,
            handler,
            batchSize: flow.tuning.batchSize,
            batchingWindowSeconds: flow.tuning.batchingWindowSeconds,
            // Lambda's default is to scale out; two per step keep a laptop responsive.
            maxConcurrency: flow.tuning.maxConcurrency ?? 2,
            timeoutSeconds: flow.tuning.timeoutSeconds,
            functionName: `${flow.flowId}-${index}-${spec.fid}`,
            ...(options.waitTimeSeconds === undefined ? {} : { waitTimeSeconds: options.waitTimeSeconds }),
            onError: (err) =>
              log(`kisflow dev: flow ${flow.flowId} step ${index} (${spec.fid}): ${describe(err)}`),
          }),
        );
      }
    }

    const jobTransport = new SqsTransport({
      sqs: clients.sqs,
      queueUrl: (to) => {
        const queues = resources.flows[to.flowId];
        const url =
          queues === undefined
            ? undefined
            : destinationQueue({ ...queues, deadLetterQueues: queues.stepDeadLetterQueues }, to);
        if (url === undefined)
          throw new KisFlowError('NOT_PROVISIONED', `Flow '${to.flowId}' has no such queue.`);
        return url;
      },
    });
    const scheduler = startScheduler({
      project,
      send: (job, tick) => jobTransport.send({ kind: 'step', flowId: job.flowId, step: 0 }, tick),
      onFire: (job, tick) =>
        log(`kisflow dev: job ${job.jobId} fired into flow ${job.flowId} (${tick.batchId})`),
      onError: (err, job) => log(`kisflow dev: job ${job.jobId}: ${describe(err)}`),
    });
    cleanups.push(() => scheduler.stop());

    let prometheus: PrometheusServer | undefined;
    const { prometheusEnable, prometheusServe } = project.global;
    if (prometheusEnable && prometheusServe !== undefined) {
      prometheus = await startPrometheusServer(prometheusServe, metrics);
      cleanups.push(() => (prometheus as PrometheusServer).stop());
    } else if (prometheusEnable) {
      log(
        'kisflow dev: prometheus_enable is set without prometheus_serve (host:port); metrics are not served.',
      );
    }

    writeDevEndpoints(root, {
      sqsEndpoint: emulators.sqsEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      prefix,
      pid: process.pid,
    });
    cleanups.push(() => {
      // Only our own file: another `kisflow dev` may have started since.
      if (readDevEndpoints(root)?.pid === process.pid) unlinkSync(devEndpointsFile(root));
    });

    let stopping: Promise<void> | undefined;
    return {
      sqsEndpoint: emulators.sqsEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      resources,
      flowIds: flows.map((f) => f.flowId),
      metrics,
      ...(prometheus === undefined ? {} : { metricsUrl: prometheus.url }),
      scheduler,
      stop() {
        stopping ??= cleanup();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function describe(err: unknown): string {
  if (err instanceof KisFlowError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
