import { rmSync, unlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type Emulators, startEmulators } from '../../localstack/emulators.ts';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { sendControlMessage } from '../aws/control-queue.ts';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { snsClientBeside } from '../aws/sns-alerts.ts';
import { loadProject } from '../config/index.ts';
import type { FlowSpec, ProjectConfig } from '../config/model.ts';
import { projectToJson } from '../config/project-json.ts';
import type { ConnectorImplementation } from '../engine/connector.ts';
import { loadFunctions, type Registry } from '../engine/index.ts';
import { ConfigError, KisFlowError } from '../errors.ts';
import { createJobControlHandler, type JobControlHandler } from '../lambda/job-control-handler.ts';
import { createSourceHandler, type SourceHandlerOptions } from '../lambda/source-handler.ts';
import { createStepHandler, type LogLevel } from '../lambda/step-handler.ts';
import { MemoryMetrics } from '../memory/index.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { fireMessage } from '../wire/control-message.ts';
import { schedulerTime } from '../wire/envelope.ts';
import type { StepWiring } from '../wire/step-wiring.ts';
import { devEndpointsFile, devLagFile, readDevEndpoints, writeDevEndpoints } from './dev-endpoints.ts';
import { acquireDevLock } from './dev-lock.ts';
import { FlowWorker, type LocalSourceHandler } from './flow-worker.ts';
import { openKinesisCheckpoints } from './kinesis-checkpoints.ts';
import { createKinesisClient } from './kinesis-client.ts';
import type { KinesisEventHandler } from './kinesis-event.ts';
import { IteratorAges, writeIteratorAges } from './kinesis-iterator-age.ts';
import type { KinesisPoller } from './kinesis-poller.ts';
import { ensureStream, kinesisFedFlows, startKinesisSources } from './kinesis-sources.ts';
import { mappedLocally } from './mapped-sources.ts';
import { type Poller, type SqsEventHandler, startPoller } from './poller.ts';
import { joinPrometheusSources, type PrometheusServer, startPrometheusServer } from './prometheus.ts';
import { type ProvisionedResources, provisionProject } from './provision.ts';
import { type QueueDepth, queueDepths } from './queue-depths.ts';
import { captureLevel, devOutput, RunLogFile, runLogDir } from './run-log.ts';
import { type Scheduler, startScheduler } from './scheduler.ts';
import { startSqsSources } from './sqs-sources.ts';
import { type ProjectWatcher, watchProject } from './watch.ts';

/** How often the dev stack marks runs with no progress past their timeout `timed_out`. */
const SWEEP_MS = 5000;
/** How often the local mappings' iterator ages are published for the CLI, when they changed. */
const LAG_PUBLISH_MS = 250;

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
  readonly endpoints?: {
    readonly sqsEndpoint: string;
    readonly dynamodbEndpoint: string;
    /** @default - `sqsEndpoint` (a local stack serves every service on one endpoint) */
    readonly kinesisEndpoint?: string;
  };
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
   * The handler a Kinesis-fed flow's local mapping invokes (its first step, fed by the stream).
   * @default - the flow's source handler (kisflow/lambda/source-handler.ts)
   */
  readonly kinesisHandler?: (flow: FlowSpec) => KinesisEventHandler;
  /** Milliseconds between reads of a Kinesis shard that had nothing new. @default 1000 */
  readonly kinesisIdlePollMs?: number;
  /**
   * Where the steps' log lines are kept for `kisflow runs logs` (`worker` only; see run-log.ts).
   * @default - `<root>/.kisflow/dev/logs`
   */
  readonly runLogDir?: string | false;
}

export interface DevStack {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly kinesisEndpoint: string;
  /** The resources of the project now loaded (a reload may add some). */
  readonly resources: ProvisionedResources;
  /** The enabled flows being served. */
  readonly flowIds: readonly string[];
  /** Every step's metrics (what `/metrics` serves). */
  readonly metrics: MemoryMetrics;
  /** The Kinesis-fed flows' iterator age per shard (served at `/metrics` too). */
  readonly iteratorAges: IteratorAges;
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
    ...(resources.control === undefined ? {} : { controlQueue: resources.control.queue }),
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
  /** One per Kinesis-fed flow. */
  readonly kinesisPollers: KinesisPoller[];
  /** The first-step source handler of each flow a local mapping feeds (mappedLocally), by flow id. */
  readonly sourceHandlers: ReadonlyMap<string, LocalSourceHandler>;
  scheduler?: Scheduler;
  /** The control queue's handler (the same as the job-control Lambda's), for the sweep timer. */
  control?: JobControlHandler;
}

/**
 * With an in-process registry (tests): the handlers the first steps of flows a local mapping feeds
 * run on its events, the same source handler (kisflow/lambda/source-handler.ts) Lambda's mapping
 * invokes in AWS. Without one, each flow's worker runs it (FlowWorker.sourceHandler).
 */
async function sourceHandlersFor(
  project: ProjectConfig,
  flows: readonly FlowSpec[],
  wiringOf: (flow: FlowSpec) => StepWiring,
  common: Pick<SourceHandlerOptions, 'clients' | 'metrics' | 'logLevel'>,
  registry?: Registry,
): Promise<Map<string, LocalSourceHandler>> {
  const handlers = new Map<string, LocalSourceHandler>();
  if (flows.length === 0) return handlers;
  const loaded = await loadFunctions(project, {
    flowIds: flows.map((f) => f.flowId),
    ...(registry === undefined ? {} : { registry }),
  });
  const connectors = connectorImplementations(project, loaded);
  for (const flow of flows) {
    const handler = createSourceHandler({
      project,
      flowId: flow.flowId,
      fn: loaded.getFunction((flow.steps[0] as FlowSpec['steps'][number]).fid),
      connectors,
      wiring: wiringOf(flow),
      ...common,
    });
    handlers.set(flow.flowId, handler as LocalSourceHandler);
  }
  return handlers;
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
    await Promise.all([...generation.pollers, ...generation.kinesisPollers].map((p) => p.stop()));
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
      emulators = {
        ...options.endpoints,
        kinesisEndpoint: options.endpoints.kinesisEndpoint ?? options.endpoints.sqsEndpoint,
        external: true,
        stop: async () => {},
      };
    } else {
      emulators = await startEmulators(stateDir === undefined ? {} : { dataDir: stateDir });
      cleanups.push(() => emulators.stop());
    }
    const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
    const clients: AwsClients = createAwsClients(endpoints);
    cleanups.push(() => destroyAwsClients(clients));
    const kinesis = createKinesisClient({ endpoint: emulators.kinesisEndpoint });
    cleanups.push(() => kinesis.destroy());
    const checkpoints = openKinesisCheckpoints(
      stateDir === undefined ? undefined : join(stateDir, 'kinesis-checkpoints.json'),
    );
    const sns = snsClientBeside(clients.sqs);
    cleanups.push(() => sns.destroy());
    const metrics = new MemoryMetrics();
    const iteratorAges = new IteratorAges();

    /** Provisions `project` and loads its functions (in workers, or here); nothing polls yet. */
    const prepare = async (project: ProjectConfig): Promise<Generation> => {
      const flows = [...project.flows.values()].filter((f) => f.enabled);
      const resources = await provisionProject(
        project,
        { ...clients, sns },
        {
          prefix,
          ...(options.visibilityTimeoutSeconds === undefined
            ? {}
            : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
        },
      );
      for (const flow of kinesisFedFlows(flows))
        await ensureStream(kinesis, flow.source?.kinesis?.streamArn as string);
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
        const sourceHandlers = await sourceHandlersFor(
          project,
          flows.filter(mappedLocally),
          (flow) => devWiring(project, flow, 0, resources),
          { clients, metrics, logLevel },
          registry,
        );
        return {
          project,
          flows,
          resources,
          workers: [],
          handlers,
          pollers: [],
          kinesisPollers: [],
          sourceHandlers,
        };
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
      // A source-fed first step runs in its flow's worker too: its function's exit, crash or hang
      // fails that batch (the local mapping retries or bisects it), never the dev process.
      const sourceHandlers = new Map(
        flows
          .filter(mappedLocally)
          .map((flow) => [flow.flowId, (workers[flows.indexOf(flow)] as FlowWorker).sourceHandler()]),
      );
      return {
        project,
        flows,
        resources,
        workers,
        handlers,
        pollers: [],
        kinesisPollers: [],
        sourceHandlers,
      };
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
      generation.kinesisPollers.push(
        ...startKinesisSources({
          kinesis,
          sqs: clients.sqs,
          flows,
          handlerFor:
            options.kinesisHandler ??
            ((flow) => generation.sourceHandlers.get(flow.flowId) as KinesisEventHandler),
          deadLetterQueue: (flow) => resources.flows[flow.flowId]?.stepDeadLetterQueues[0] as string,
          checkpoints,
          iteratorAges,
          metrics,
          ledger,
          log,
          ...(options.kinesisIdlePollMs === undefined ? {} : { idlePollMs: options.kinesisIdlePollMs }),
        }),
      );
      generation.pollers.push(
        ...startSqsSources({
          sqs: clients.sqs,
          flows,
          resources,
          handlerFor: (flow) => generation.sourceHandlers.get(flow.flowId) as LocalSourceHandler,
          metrics,
          log,
          ...(options.waitTimeSeconds === undefined ? {} : { waitTimeSeconds: options.waitTimeSeconds }),
        }),
      );
      const control = resources.control as NonNullable<ProvisionedResources['control']>;
      generation.control = createJobControlHandler({
        project,
        wiring: {
          controlQueue: control.queue,
          deadLetterQueue: control.deadLetterQueue,
          runsTable: resources.runsTable,
          prefix,
          ...(resources.alertTopic === undefined ? {} : { alertTopic: resources.alertTopic }),
        },
        clients: { sqs: clients.sqs, dynamodb: clients.dynamodb, sns },
        log: (line) => log(`kisflow dev: ${line}`),
        logLevel,
      });
      generation.pollers.push(
        startPoller({
          sqs: clients.sqs,
          queueUrl: control.queue,
          handler: generation.control,
          batchSize: 10,
          batchingWindowSeconds: 0,
          maxConcurrency: 1,
          timeoutSeconds: 60,
          functionName: 'job-control',
          ...(options.waitTimeSeconds === undefined ? {} : { waitTimeSeconds: options.waitTimeSeconds }),
          onError: (err) => log(`kisflow dev: job control: ${describe(err)}`),
        }),
      );
      // As EventBridge Scheduler on AWS: a fire is a `fire` message on the control queue, and job
      // control makes it a run (overlap policy, shards, timeout).
      generation.scheduler = startScheduler({
        project,
        ledger,
        fire: async (job, scheduledAt, trigger) => {
          await sendControlMessage(
            clients.sqs,
            control.queue,
            fireMessage(job.jobId, schedulerTime(scheduledAt), trigger),
          );
          log(
            `kisflow dev: job ${job.jobId} fired (${schedulerTime(scheduledAt)}${trigger === 'misfire' ? ', misfire' : ''})`,
          );
        },
        onMissed: (job, missed) =>
          log(
            `kisflow dev: job ${job.jobId}: ${missed.missed} fire(s) missed, ${missed.fire ? `one run (misfire) for ${missed.scheduledAt.toISOString()}` : 'skipped (misfire: skip)'}`,
          ),
        send: () => Promise.resolve(),
        onError: (err, job) => log(`kisflow dev: job ${job.jobId}: ${describe(err)}`),
      });
    };

    current = await prepare(await loadFrom());
    const ledger = new DynamoRunLedger({
      dynamodb: clients.dynamodb,
      tableName: current.resources.runsTable,
    });
    run(current);
    // What a crashed step or a lost message would leave `running` forever becomes `timed_out`, and
    // a run end nobody handed on (a crash before the `run-ended` send, a CLI cancel) is handled.
    // One sweep at a time, and the stack's stop waits for the one in flight (it needs the servers).
    let sweeping: Promise<void> | undefined;
    const sweeper = setInterval(() => {
      const control = current?.control;
      if (control === undefined || sweeping !== undefined) return;
      sweeping = control.control
        .sweep()
        .then(
          ({ timedOut, repaired }) => {
            for (const id of timedOut) log(`kisflow dev: run ${id} timed out (no progress for its timeout)`);
            for (const id of repaired) log(`kisflow dev: run ${id}: its end was handled by the repair pass`);
          },
          (err: unknown) => log(`kisflow dev: run sweep: ${describe(err)}`),
        )
        .finally(() => {
          sweeping = undefined;
        });
    }, options.sweepMs ?? SWEEP_MS);
    sweeper.unref();
    cleanups.push(async () => {
      clearInterval(sweeper);
      await sweeping;
    });

    let prometheus: PrometheusServer | undefined;
    const { prometheusEnable, prometheusServe } = current.project.global;
    if (prometheusEnable && prometheusServe !== undefined) {
      prometheus = await startPrometheusServer(prometheusServe, joinPrometheusSources(metrics, iteratorAges));
      cleanups.push(() => (prometheus as PrometheusServer).stop());
    } else if (prometheusEnable) {
      log(
        'kisflow dev: prometheus_enable is set without prometheus_serve (host:port); metrics are not served.',
      );
    }

    writeDevEndpoints(root, {
      ...endpoints,
      kinesisEndpoint: emulators.kinesisEndpoint,
      prefix,
      pid: process.pid,
      runsTable: current.resources.runsTable,
      ...(prometheus === undefined ? {} : { metricsUrl: prometheus.url }),
      lagFile: devLagFile(root),
    });
    cleanups.push(() => {
      // Only our own file: another `kisflow dev` may have started since.
      if (readDevEndpoints(root)?.pid === process.pid) unlinkSync(devEndpointsFile(root));
    });
    // The iterator ages for `kisflow runs stats` and the console, Prometheus or not; a reader
    // trusts the file only while this process (dev.json's pid) runs.
    let published = '';
    const publishLag = (): void => {
      const now = JSON.stringify(iteratorAges.perFlow());
      if (now === published) return;
      try {
        writeIteratorAges(devLagFile(root), iteratorAges);
        published = now;
      } catch (err) {
        log(`kisflow dev: cannot write ${devLagFile(root)}: ${(err as Error).message}`);
      }
    };
    publishLag();
    const lagTimer = setInterval(publishLag, LAG_PUBLISH_MS);
    lagTimer.unref();
    cleanups.push(() => {
      clearInterval(lagTimer);
      if (readDevEndpoints(root)?.pid === process.pid) rmSync(devLagFile(root), { force: true });
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
      kinesisEndpoint: emulators.kinesisEndpoint,
      iteratorAges,
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

/** A reload's failure, on one line per problem (a config error lists its issues). */
function describeProblem(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  return describe(err);
}

function describe(err: unknown): string {
  if (err instanceof KisFlowError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
