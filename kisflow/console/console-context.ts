import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { type EndpointSource, type ResolvedEndpoints, resolveEndpoints } from '../cli/endpoints.ts';
import type { TriggerTarget } from '../cli/trigger-job.ts';
import { type ConfigIssue, validateProject } from '../config/index.ts';
import type { ProjectConfig } from '../config/model.ts';
import { resourceNames } from '../config/names.ts';
import { UsageError } from '../errors.ts';
import { locateResources, type ProvisionedResources } from '../local/provision.ts';
import { type QueueDepth, queueDepths } from '../local/queue-depths.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { runWindow } from './run-window.ts';

/** Where the console reads from: the same deployment lookup as `kisflow tail`, `runs`, `jobs`. */
export interface ConsoleTarget {
  /** The flows directory. */
  readonly dir: string;
  /** Where `.kisflow/dev.json` is looked for. */
  readonly root: string;
  readonly endpoint?: string;
  readonly prefix?: string;
  readonly region?: string;
}

/** The project as the YAML says now, with `kisflow validate`'s located problems. */
export interface LoadedProject {
  readonly project?: ProjectConfig;
  readonly issues: readonly ConfigIssue[];
}

/** What every read and action of the console shares: clients, the run ledger, the project. */
export interface ConsoleContext {
  readonly target: ConsoleTarget;
  readonly trigger: TriggerTarget;
  readonly source: EndpointSource;
  /** What the deployment lookup found (a dev stack's Prometheus endpoint: the sources' lag). */
  readonly endpoints?: ResolvedEndpoints;
  readonly prefix: string;
  readonly clients: AwsClients;
  readonly ledger: RunLedger;
  readonly region?: string;
  /** The SQS endpoint when it is not AWS itself (a `kisflow dev`, `--endpoint`). */
  readonly sqsEndpoint?: string;
  /** CloudWatch, for the Flow page's per-step figures on AWS (created on first use). */
  cloudwatch(): CloudWatchClient;
  /**
   * `read()`'s answer, shared by every caller for `ttlMs` (pages poll; CloudWatch bills per
   * metric read). A failed read is not kept.
   */
  cached<T>(key: string, ttlMs: number, read: () => Promise<T>): Promise<T>;
  /** The project, reloaded when the YAML changed (a short cache: pages ask often). */
  loaded(): Promise<LoadedProject>;
  /** The project, or a UsageError naming the first problem (the Config page shows them all). */
  project(): Promise<ProjectConfig>;
  /** The queues and tables of the enabled flows, located once per project load. */
  resources(): Promise<ProvisionedResources>;
  /** What every queue of the enabled flows holds now (a short cache: the event stream asks too). */
  depths(): Promise<QueueDepth[]>;
  now(): number;
  close(): void;
}

const PROJECT_TTL_MS = 2_000;
const DEPTHS_TTL_MS = 1_000;

/**
 * Opens the console's view of a deployment: a running `kisflow dev` (found through
 * `.kisflow/dev.json`), `--endpoint`/`AWS_ENDPOINT_URL`, or AWS with the caller's credentials.
 *
 * @example const context = openConsoleContext({ dir: 'flows', root: process.cwd() });
 */
export function openConsoleContext(target: ConsoleTarget): ConsoleContext {
  const found = resolveEndpoints({
    root: target.root,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
  });
  const prefix = target.prefix ?? found.prefix ?? 'kisflow';
  const clients = createAwsClients({
    ...(found.sqsEndpoint === undefined ? {} : { sqsEndpoint: found.sqsEndpoint }),
    ...(found.dynamodbEndpoint === undefined ? {} : { dynamodbEndpoint: found.dynamodbEndpoint }),
    ...(target.region === undefined ? {} : { region: target.region }),
  });
  const ledger = runWindow(
    new DynamoRunLedger({
      dynamodb: clients.dynamodb,
      tableName: found.runsTable ?? resourceNames(prefix).runsTable(),
    }),
  );
  let cached: { at: number; value: Promise<LoadedProject> } | undefined;
  let located: { for: ProjectConfig; value: Promise<ProvisionedResources> } | undefined;
  let measured: { at: number; value: Promise<QueueDepth[]> } | undefined;
  let lastDepths: QueueDepth[] | undefined;
  let lastLoaded: LoadedProject | undefined;
  let cloudwatch: CloudWatchClient | undefined;
  const reads = new Map<string, { at: number; value: Promise<unknown> }>();
  const loaded = (): Promise<LoadedProject> => {
    if (cached === undefined || Date.now() - cached.at > PROJECT_TTL_MS) {
      const value = validateProject(target.dir, { root: target.root });
      cached = { at: Date.now(), value };
      value.then(
        (v) => {
          lastLoaded = v;
        },
        () => {
          if (cached?.value === value) cached = undefined;
        },
      );
    }
    // The YAML as last read while it is read again: an edit shows within PROJECT_TTL_MS or so.
    return lastLoaded !== undefined ? Promise.resolve(lastLoaded) : cached.value;
  };
  const project = async (): Promise<ProjectConfig> => {
    const { project: p, issues } = await loaded();
    if (p) return p;
    throw new UsageError(
      'CONFIG_INVALID',
      `The flows in ${target.dir} do not load (${issues.length} problem(s)); the Config page shows them.`,
      { dir: target.dir, count: issues.length },
    );
  };
  const resources = async (): Promise<ProvisionedResources> => {
    const p = await project();
    if (located?.for !== p) {
      const value = locateResources(p, clients.sqs, {
        prefix,
        flowIds: [...p.flows.values()].filter((f) => f.enabled).map((f) => f.flowId),
      });
      located = { for: p, value };
      value.catch(() => {
        if (located?.value === value) located = undefined;
      });
    }
    return located.value;
  };
  return {
    target,
    trigger: {
      root: target.root,
      ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
      prefix,
    },
    source: found.source,
    endpoints: found,
    prefix,
    clients,
    ledger,
    ...(target.region === undefined ? {} : { region: target.region }),
    ...(found.sqsEndpoint === undefined ? {} : { sqsEndpoint: found.sqsEndpoint }),
    cloudwatch() {
      // The region the queues were located in.
      cloudwatch ??= new CloudWatchClient({ region: clients.sqs.config.region });
      return cloudwatch;
    },
    cached<T>(key: string, ttlMs: number, read: () => Promise<T>): Promise<T> {
      const kept = reads.get(key);
      if (kept !== undefined && Date.now() - kept.at <= ttlMs) return kept.value as Promise<T>;
      const value = read();
      reads.set(key, { at: Date.now(), value });
      value.catch(() => {
        if (reads.get(key)?.value === value) reads.delete(key);
      });
      return value;
    },
    loaded,
    project,
    resources,
    depths() {
      if (measured === undefined || Date.now() - measured.at > DEPTHS_TTL_MS) {
        const value = (async () => {
          const p = await project();
          return queueDepths(
            clients.sqs,
            [...p.flows.values()].filter((f) => f.enabled),
            await resources(),
          );
        })();
        const previous = measured;
        measured = { at: Date.now(), value };
        value.then(
          (v) => {
            lastDepths = v;
          },
          () => {
            if (measured?.value === value) measured = previous;
          },
        );
        // Answer with the last depths while new ones are read (the event stream reports changes).
        if (lastDepths !== undefined) return Promise.resolve(lastDepths);
      }
      return lastDepths !== undefined ? Promise.resolve(lastDepths) : measured.value;
    },
    now: () => Date.now(),
    close: () => {
      destroyAwsClients(clients);
      cloudwatch?.destroy();
    },
  };
}
