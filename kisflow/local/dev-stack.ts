import { rmSync, unlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type Emulators, startEmulators } from '../../localstack/emulators.ts';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import { loadProject } from '../config/index.ts';
import type { FlowSpec, ProjectConfig } from '../config/model.ts';
import { projectToJson } from '../config/project-json.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import { loadFunctions, type Registry } from '../engine/index.ts';
import { ConfigError, KisFlowError } from '../errors.ts';
import { createStepHandler, type LogLevel } from '../lambda/step-handler.ts';
import { MemoryMetrics } from '../memory/index.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { destinationQueue } from '../wire/destination.ts';
import type { StepWiring } from '../wire/step-wiring.ts';
import { devEndpointsFile, readDevEndpoints, writeDevEndpoints } from './dev-endpoints.ts';
import { acquireDevLock } from './dev-lock.ts';
import { FlowWorker } from './flow-worker.ts';
import { type Poller, type SqsEventHandler, startPoller } from './poller.ts';
import { type PrometheusServer, startPrometheusServer } from './prometheus.ts';
import { type ProvisionedResources, provisionProject } from './provision.ts';
import { type QueueDepth, queueDepths } from './queue-depths.ts';
import { captureLevel, devOutput, RunLogFile, runLogDir } from './run-log.ts';
import { type Scheduler, startScheduler } from './scheduler.ts';
import { type ProjectWatcher, watchProject } from './watch.ts';

/** How often the dev stack marks runs with no progress past their timeout `timed_out`. */
const SWEEP_MS = 5000;

export interface DevStackOptions {
  /** @default SWEEP_MS */
  readonly sweepMs?: number;
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
  /**
   * Where the embedded emulators keep queues, dead letters, tables and keyed state, so that they
   * survive a crash and a restart; `false` keeps them in memory.
   * @default - `<root>/.kisflow/dev` when the stack starts the emulators itself
   */
  readonly stateDir?: string | false;
  /** Starts from empty queues and tables (deletes `stateDir` first). @default false */
  readonly fresh?: boolean;
  /**
   * Takes `<root>/.kisflow/dev.lock`, so that a second stack in the folder is refused.
   * @default - true when the stack starts the emulators itself
   */
  readonly lock?: boolean;
  /**
   * `worker`: each flow's functions run in a worker thread of their own, so one that exits, crashes
   * or hangs fails only its own batch. `in-process`: in this thread (functions registered in code
   * can only run here).
   * @default - `worker`, `in-process` when `registry` is given
   */
  readonly isolation?: 'worker' | 'in-process';
  /** Reloads the project when a YAML file or a function module changes (`worker` only). @default false */
  readonly watch?: boolean;
  /**
   * Where the steps' log lines are kept for `kisflow runs logs` (`worker` only; see run-log.ts).
   * @default - `<root>/.kisflow/dev/logs`
   */
  readonly runLogDir?: string | false;
}

export interface DevStack {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** The resources of the project now loaded (a reload may add some). */
  readonly resources: ProvisionedResources;
  /** The enabled flows being served. */
  readonly flowIds: readonly string[];
  /** Every step's metrics (what `/metrics` serves). */
  readonly metrics: MemoryMetrics;
  /** The Prometheus endpoint, when `global.prometheus_enable`. */
  readonly metricsUrl?: string;
  readonly scheduler: Scheduler;
  /** The run ledger on the dev stack's runs table: every batch the steps handle is recorded there. */
  readonly ledger: RunLedger;
  /** Where queues and tables are kept, when they are. */
  readonly stateDir?: string;
  /** Loads the project and its functions again (what a watched change does). */
  reload(): Promise<void>;
  /**
   * Stops the scheduler, lets in-flight batches finish, stops the servers it started.
   * @returns the messages still in each queue at that moment (non-empty queues only).
   */
  stop(): Promise<readonly QueueDepth[]>;
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
    // As in AWS, only steps of functions that declare `option.state: true` get the state table.
    ...(project.funcs.get(flow.steps[step]?.fid ?? '')?.usesState === true
      ? { stateTable: resources.stateTable }
      : {}),
    runsTable: resources.runsTable,
    maxReceiveCount: queues.maxReceiveCounts[step] as number,
    maxMessageBytes: flow.tuning.maxMessageBytes,
    metricsNamespace: project.global.metricsNamespace,
  };
}

export function connectorImplementations(
  project: ProjectConfig,
  registry: Registry,
): ConnectorImplementation[] {
  const types = new Set([...project.conns.values()].map((c) => c.type));
  return [...types].flatMap((type) => registry.getConnector(type) ?? []);
}

/** What runs one loaded project: its pollers, flow workers and job timer. Replaced on reload. */
interface Generation {
  readonly project: ProjectConfig;
  readonly flows: readonly FlowSpec[];
  readonly resources: ProvisionedResources;
  /** Per flow, in `flows` order (empty in-process). */
  readonly workers: readonly FlowWorker[];
  /** Per `flowId/step`, in-process only. */
  readonly handlers: ReadonlyMap<string, SqsEventHandler>;
  readonly pollers: Poller[];
  scheduler?: Scheduler;
}

/**
 * `kisflow dev`: the whole project on local AWS-compatible servers. Loads the project and its
 * functions, starts the embedded emulators (or uses `AWS_ENDPOINT_URL` / `options.endpoints`),
 * provisions every enabled flow's queues, DLQs and tables, and runs each step's real Lambda
 * handler (`createStepHandler`) behind a local poller with the flow's tuning (batch size, window,
 * concurrency), the jobs on a local timer, and Prometheus text at `global.prometheus_serve`
 * when `prometheus_enable`. Writes `.kisflow/dev.json` so `kisflow send/tail/dlq/redrive` find it.
 *
 * The embedded emulators keep queues, dead letters, tables and state in `.kisflow/dev/`, so a
 * crash or a restart loses nothing, and `.kisflow/dev.lock` keeps a second stack out of the folder.
 * Each flow's functions run in a worker thread of their own (see FlowWorker); with `watch`, a
 * changed function module or YAML file is loaded without a restart.
 *
 * @throws ConfigError for a project with mistakes; UsageError when a port is taken or another
 *   `kisflow dev` holds the folder.
 * @example
 * const stack = await startDevStack({ dir: 'flows', root: process.cwd(), watch: true });
 * // kisflow send order_intake --input rows.jsonl
 * const stillQueued = await stack.stop();
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const root = resolve(options.root);
  const prefix = options.prefix ?? 'kisflow';
  const log = options.log ?? (() => {});
  const ownServers = options.endpoints === undefined && !process.env.AWS_ENDPOINT_URL;
  const isolation = options.isolation ?? (options.registry === undefined ? 'worker' : 'in-process');
  const logLevel = options.logLevel ?? 'WARN';
  const loadFrom = async (): Promise<ProjectConfig> =>
    options.project ?? (await loadProject(resolve(root, options.dir), { root }));

  // Servers and files, stopped in reverse order; the running generation is stopped before them.
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
  let current: Generation | undefined;

  // The scheduler stops first, then the pollers (in-flight batches finish: they still need SQS,
  // DynamoDB and their worker), then the workers.
  const halt = async (generation: Generation): Promise<void> => {
    await generation.scheduler?.stop();
    await Promise.all(generation.pollers.map((p) => p.stop()));
    await Promise.all(generation.workers.map((w) => w.stop()));
  };

  try {
    if (options.lock ?? ownServers) {
      const lock = acquireDevLock(root);
      cleanups.push(() => lock.release());
    }
    const stateDir =
      options.stateDir === false || !ownServers
        ? undefined
        : (options.stateDir ?? join(root, '.kisflow', 'dev'));
    if (stateDir !== undefined && options.fresh) rmSync(stateDir, { recursive: true, force: true });
    const runLog =
      isolation === 'worker' && options.runLogDir !== false
        ? new RunLogFile(options.runLogDir ?? runLogDir(root))
        : undefined;
    if (runLog !== undefined) cleanups.push(() => runLog.close());

    let emulators: Emulators;
    if (options.endpoints) {
      emulators = { ...options.endpoints, external: true, stop: async () => {} };
    } else {
      emulators = await startEmulators(stateDir === undefined ? {} : { dataDir: stateDir });
      cleanups.push(() => emulators.stop());
    }
    const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
    const clients: AwsClients = createAwsClients(endpoints);
    cleanups.push(() => destroyAwsClients(clients));
    const metrics = new MemoryMetrics();

    /** Provisions `project` and loads its functions (in workers, or here); nothing polls yet. */
    const prepare = async (project: ProjectConfig): Promise<Generation> => {
      const flows = [...project.flows.values()].filter((f) => f.enabled);
      const resources = await provisionProject(project, clients, {
        prefix,
        ...(options.visibilityTimeoutSeconds === undefined
          ? {}
          : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
      });
      const handlers = new Map<string, SqsEventHandler>();
      if (isolation === 'in-process') {
        const registry = await loadFunctions(project, {
          flowIds: flows.map((f) => f.flowId),
          ...(options.registry === undefined ? {} : { registry: options.registry }),
        });
        const connectors = connectorImplementations(project, registry);
        for (const flow of flows) {
          for (const [step, spec] of flow.steps.entries()) {
            const handler = createStepHandler({
              project,
              flowId: flow.flowId,
              step,
              fn: registry.getFunction(spec.fid),
              connectors,
              wiring: devWiring(project, flow, step, resources),
              clients,
              metrics,
              logLevel,
            });
            handlers.set(`${flow.flowId}/${step}`, handler);
          }
        }
        return { project, flows, resources, workers: [], handlers, pollers: [] };
      }
      const workers = flows.map(
        (flow) =>
          new FlowWorker({
            data: {
              project: projectToJson(project, { flowId: flow.flowId }),
              flowId: flow.flowId,
              wirings: flow.steps.map((_, step) => devWiring(project, flow, step, resources)),
              endpoints,
              logLevel: runLog === undefined ? logLevel : captureLevel(logLevel),
            },
            project,
            sqs: clients.sqs,
            metrics,
            timeoutSeconds: flow.tuning.timeoutSeconds,
            log,
            ...(runLog === undefined ? {} : { output: devOutput(runLog, logLevel) }),
          }),
      );
      const started = await Promise.allSettled(workers.map((w) => w.start()));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await Promise.all(workers.map((w) => w.stop()));
        throw failed.reason;
      }
      return { project, flows, resources, workers, handlers, pollers: [] };
    };

    const run = (generation: Generation): void => {
      const { project, flows, resources, workers, handlers } = generation;
      for (const [f, flow] of flows.entries()) {
        for (const [step, spec] of flow.steps.entries()) {
          const worker = workers[f];
          const handler =
            worker?.handler(step) ?? (handlers.get(`${flow.flowId}/${step}`) as SqsEventHandler);
          generation.pollers.push(
            startPoller({
              sqs: clients.sqs,
              queueUrl: resources.flows[flow.flowId]?.stepQueues[step] as string,
              handler,
              batchSize: flow.tuning.batchSize,
              batchingWindowSeconds: flow.tuning.batchingWindowSeconds,
              // Lambda's default is to scale out; two per step keep a laptop responsive.
              maxConcurrency: flow.tuning.maxConcurrency ?? 2,
              // A worker ends a batch at the flow's timeout itself (its thread with it), with the
              // reason, counted from when the batch reaches a thread; the poller's own limit is
              // then only a backstop that also covers waiting for a thread to start.
              timeoutSeconds:
                worker === undefined ? flow.tuning.timeoutSeconds : flow.tuning.timeoutSeconds * 3 + 30,
              functionName: `${flow.flowId}-${step}-${spec.fid}`,
              ...(options.waitTimeSeconds === undefined ? {} : { waitTimeSeconds: options.waitTimeSeconds }),
              onError: (err) =>
                log(`kisflow dev: flow ${flow.flowId} step ${step} (${spec.fid}): ${describe(err)}`),
            }),
          );
        }
      }
      const transport = jobTransport(clients, resources);
      generation.scheduler = startScheduler({
        project,
        ledger,
        onOutcome: (job, outcome) => {
          if (outcome.kind === 'queued')
            log(`kisflow dev: job ${job.jobId}: fire ${outcome.runId} queued behind run ${outcome.behind}`);
          else if (outcome.kind === 'skipped')
            log(`kisflow dev: job ${job.jobId}: fire skipped (${outcome.run.reason ?? 'overlap'})`);
          else if (outcome.kind === 'started' && outcome.covered !== undefined)
            log(`kisflow dev: job ${job.jobId}: run ${outcome.covered} cancelled for ${outcome.run.id}`);
        },
        send: (job, tick) => transport.send({ kind: 'step', flowId: job.flowId, step: 0 }, tick),
        onFire: (job, tick) =>
          log(`kisflow dev: job ${job.jobId} fired into flow ${job.flowId} (${tick.batchId})`),
        onError: (err, job) => log(`kisflow dev: job ${job.jobId}: ${describe(err)}`),
      });
    };

    current = await prepare(await loadFrom());
    const ledger = new DynamoRunLedger({
      dynamodb: clients.dynamodb,
      tableName: current.resources.runsTable,
    });
    run(current);
    // What a crashed step or a lost message would leave `running` forever becomes `timed_out`.
    const sweeper = setInterval(() => {
      ledger.sweep().then(
        (ids) => {
          for (const id of ids) log(`kisflow dev: run ${id} timed out (no progress for its timeout)`);
        },
        (err: unknown) => log(`kisflow dev: run timeout sweep: ${describe(err)}`),
      );
    }, options.sweepMs ?? SWEEP_MS);
    sweeper.unref();
    cleanups.push(() => clearInterval(sweeper));

    let prometheus: PrometheusServer | undefined;
    const { prometheusEnable, prometheusServe } = current.project.global;
    if (prometheusEnable && prometheusServe !== undefined) {
      prometheus = await startPrometheusServer(prometheusServe, metrics);
      cleanups.push(() => (prometheus as PrometheusServer).stop());
    } else if (prometheusEnable) {
      log(
        'kisflow dev: prometheus_enable is set without prometheus_serve (host:port); metrics are not served.',
      );
    }

    writeDevEndpoints(root, {
      ...endpoints,
      prefix,
      pid: process.pid,
      runsTable: current.resources.runsTable,
    });
    cleanups.push(() => {
      // Only our own file: another `kisflow dev` may have started since.
      if (readDevEndpoints(root)?.pid === process.pid) unlinkSync(devEndpointsFile(root));
    });

    let stopping: Promise<readonly QueueDepth[]> | undefined;
    // One reload at a time; a project that fails to load leaves the running one as it is.
    let reloading: Promise<void> = Promise.resolve();
    let watcher: ProjectWatcher | undefined;
    const reload = (why: string): Promise<void> => {
      reloading = reloading.then(async () => {
        if (stopping !== undefined) return;
        log(`kisflow dev: ${why}; reloading`);
        let next: Generation;
        try {
          next = await prepare(await loadFrom());
        } catch (err) {
          log(`kisflow dev: reload failed, the previous version keeps running: ${describeProblem(err)}`);
          return;
        }
        const previous = current as Generation;
        current = next;
        await halt(previous);
        run(next);
        watcher?.refresh();
        log(`kisflow dev: reloaded (flows ${next.flows.map((f) => f.flowId).join(', ')})`);
      });
      return reloading;
    };
    if (options.watch && isolation === 'in-process') {
      log('kisflow dev: functions registered in code cannot be reloaded; not watching.');
    } else if (options.watch) {
      const watching = watchProject({
        dir: resolve(root, options.dir),
        project: () => (current as Generation).project,
        onChange: (file) => void reload(`${relative(root, file) || file} changed`),
        onError: (err) => log(`kisflow dev: watching: ${(err as Error).message}`),
      });
      watcher = watching;
      cleanups.push(() => watching.close());
    }

    const stack: DevStack = {
      sqsEndpoint: emulators.sqsEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      get resources() {
        return (current as Generation).resources;
      },
      get flowIds() {
        return (current as Generation).flows.map((f) => f.flowId);
      },
      metrics,
      ledger,
      ...(prometheus === undefined ? {} : { metricsUrl: prometheus.url }),
      get scheduler() {
        return (current as Generation).scheduler as Scheduler;
      },
      ...(stateDir === undefined ? {} : { stateDir }),
      reload: () => reload('reload requested'),
      stop() {
        stopping ??= reloading.then(async () => {
          const generation = current as Generation;
          await halt(generation);
          let left: readonly QueueDepth[] = [];
          try {
            left = await queueDepths(clients.sqs, generation.flows, generation.resources);
          } catch (err) {
            log(`kisflow dev: could not count what is still queued: ${describe(err)}`);
          }
          await cleanup();
          return left;
        });
        return stopping;
      },
    };
    return stack;
  } catch (err) {
    if (current !== undefined) await halt(current);
    await cleanup();
    throw err;
  }
}

function jobTransport(clients: AwsClients, resources: ProvisionedResources): SqsTransport {
  return new SqsTransport({
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
}

/** A reload's failure, on one line per problem (a config error lists its issues). */
function describeProblem(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  return describe(err);
}

function describe(err: unknown): string {
  if (err instanceof KisFlowError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
