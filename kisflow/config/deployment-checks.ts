import type { ConfigIssue } from '../errors.ts';
import { didYouMean } from './did-you-mean.ts';
import type { FlowSpec, ParamValue, ProjectConfig, SourcePosition } from './model.ts';
import {
  fifoQueues,
  flowMetricLabel,
  logicalSafeId,
  resourceNames,
  SQS_QUEUE_NAME_MAX,
  safeId,
  stepKeys,
} from './names.ts';

/**
 * The step param naming the fids a step may `jumpTo`. Optional: every step may send to every step
 * of its own flow. Still accepted, and checked, so a typo in it is found.
 */
export const JUMP_TARGETS_PARAM = 'jump_targets';

/**
 * Lambda's limit on all environment variables of a function together, which hold a step's wiring.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
 */
const LAMBDA_ENVIRONMENT_BYTES = 4096;
/** A queue URL is this plus the queue name in the longest region name (`ap-southeast-4`). */
const QUEUE_URL_HEAD = 'https://sqs.ap-southeast-4.amazonaws.com/123456789012/';
/** The other variables of a step (NODE_OPTIONS, Powertools) and the wiring's other fields and URLs. */
const ENVIRONMENT_OVERHEAD_BYTES = 800;

/** CloudFormation, DynamoDB and CloudWatch name limits. */
const LIMITS = { stack: 128, table: 255, queue: SQS_QUEUE_NAME_MAX, dashboard: 255 } as const;

export interface DeploymentCheckOptions {
  /** The prefix the app is deployed with (`-c kisflow:prefix`). @default 'kisflow' */
  readonly prefix?: string;
}

interface Named {
  readonly name: string;
  readonly what: string;
  readonly at?: SourcePosition;
}

function located(at: SourcePosition | undefined, message: string): ConfigIssue {
  return at ? { file: at.file, line: at.line, col: at.col, message } : { message };
}

/**
 * What `cdk synth` would otherwise find out late (or crash on), checked on a project whose shape
 * and references are already good: `jump_targets` naming steps of the flow, enabled jobs of
 * disabled flows, every physical name and construct id distinct after mangling, name length
 * limits, and the size of each step's wiring. `kisflow validate` and the CDK app both run it.
 *
 * @example
 * const issues = deploymentIssues(project, { prefix: 'dev' });
 */
export function deploymentIssues(
  project: ProjectConfig,
  options: DeploymentCheckOptions = {},
): ConfigIssue[] {
  const names = resourceNames(options.prefix);
  const issues: ConfigIssue[] = [];
  for (const flow of project.flows.values()) {
    issues.push(...jumpTargetIssues(project, flow), ...sourceIssues(project, flow));
  }

  for (const job of project.jobs.values()) {
    const flow = project.flows.get(job.flowId);
    if (job.enabled && flow && !flow.enabled) {
      issues.push(
        located(
          job.at,
          `job "${job.jobId}" is on (status 1) but starts flow "${job.flowId}", which is off (status 0); set the job's status to 0, or turn the flow on`,
        ),
      );
    }
  }

  /**
   * Names in one namespace must be distinct: the second of two equal names is reported, once per
   * pair of objects (two flows that share a stack id share its name too).
   */
  const reported = new Set<string>();
  const distinct = (namespace: string, entries: readonly Named[]) => {
    const seen = new Map<string, Named>();
    for (const entry of entries) {
      const first = seen.get(entry.name);
      if (!first) {
        seen.set(entry.name, entry);
        continue;
      }
      const pair = `${entry.what}\n${first.what}`;
      if (reported.has(pair)) continue;
      reported.add(pair);
      const where = first.at ? ` (${first.at.file}:${first.at.line})` : '';
      issues.push(
        located(
          entry.at,
          `${entry.what} and ${first.what}${where} would both deploy as ${namespace} ${entry.name}; rename one of them`,
        ),
      );
    }
  };
  const tooLong = (kind: keyof typeof LIMITS, entries: readonly Named[]) => {
    for (const entry of entries) {
      if (entry.name.length > LIMITS[kind]) {
        issues.push(
          located(
            entry.at,
            `${entry.what} would deploy as ${kind} name ${entry.name} (${entry.name.length} characters; at most ${LIMITS[kind]}); choose a shorter id or prefix`,
          ),
        );
      }
    }
  };

  const flows = [...project.flows.values()];
  const flowWhat = (flow: FlowSpec) => `flow "${flow.flowId}"`;
  distinct('stack', [
    { name: names.sharedStack(), what: 'the shared stack' },
    ...flows.map((flow) => ({ name: names.flowStack(flow.flowId), what: flowWhat(flow), at: flow.at })),
  ]);
  const stackNames = [
    { name: names.sharedStackName(), what: 'the shared stack' },
    ...flows.map((flow) => ({ name: names.flowStackName(flow.flowId), what: flowWhat(flow), at: flow.at })),
  ];
  distinct('CloudFormation stack', stackNames);
  tooLong('stack', stackNames);
  distinct(
    'metric dimension flow',
    flows.map((flow) => ({ name: flowMetricLabel(flow.flowId), what: flowWhat(flow), at: flow.at })),
  );
  const dashboards = flows.map((flow) => ({
    name: names.flowMonitoring(flow.flowId),
    what: flowWhat(flow),
    at: flow.at,
  }));
  distinct('dashboard', dashboards);
  tooLong('dashboard', dashboards);

  const queues: Named[] = [];
  for (const flow of flows) {
    const fifo = fifoQueues(flow);
    const keys = stepKeys(flow.steps.map((s) => s.fid));
    const steps = flow.steps.map((step, i) => ({
      key: keys[i] as string,
      what: `step ${i + 1} (${keys[i]}) of flow "${flow.flowId}"`,
      at: step.at ?? flow.at,
    }));
    for (const step of steps) {
      queues.push({ name: names.stepQueue(flow.flowId, step.key, fifo), what: step.what, at: step.at });
      queues.push({
        name: names.stepDeadLetterQueue(flow.flowId, step.key, fifo),
        what: `the DLQ of ${step.what}`,
        at: step.at,
      });
    }
    for (const [name, what] of [
      [names.outputQueue(flow.flowId, fifo), 'output queue'],
      [names.outputDeadLetterQueue(flow.flowId, fifo), 'output DLQ'],
      [names.ingressDeadLetterQueue(flow.flowId), 'ingress DLQ'],
    ] as const) {
      queues.push({ name, what: `the ${what} of ${flowWhat(flow)}`, at: flow.at });
    }
    distinct(`a construct id in stack ${names.flowStack(flow.flowId)}:`, [
      ...steps.map((s) => ({ name: `Step-${logicalSafeId(s.key)}`, what: s.what, at: s.at })),
      ...[...project.jobs.values()]
        .filter((job) => job.flowId === flow.flowId)
        .map((job) => ({ name: `Job-${safeId(job.jobId)}`, what: `job "${job.jobId}"`, at: job.at })),
    ]);
    issues.push(
      ...wiringSizeIssues(
        flow,
        steps.map((s) => names.stepQueue(flow.flowId, s.key, fifo)),
      ),
    );
  }
  distinct('SQS queue', queues);
  tooLong('queue', queues);

  const conns = [...project.conns.values()].filter((conn) => conn.type === 'dynamodb');
  const tables = [
    { name: names.stateTable(), what: 'the keyed-state table' },
    ...conns.map((conn) => ({
      name: names.connectorTable(conn.cid),
      what: `conn "${conn.cid}"`,
      at: conn.at,
    })),
  ];
  distinct('DynamoDB table', tables);
  tooLong('table', tables);
  // Tables keep their construct ids (a new one would replace a retained table); the outputs, at
  // the stack's top, are named so that CloudFormation's mangling keeps them apart.
  for (const id of [
    (cid: string) => `Connector-${safeId(cid)}`,
    (cid: string) => `ConnectorTable${logicalSafeId(cid)}`,
  ]) {
    distinct(
      `a construct id in stack ${names.sharedStack()}:`,
      conns.map((conn) => ({ name: id(conn.cid), what: `conn "${conn.cid}"`, at: conn.at })),
    );
  }
  return issues;
}

/** A step may send to every queue of its flow; the wiring lists their URLs, within Lambda's 4 KB. */
function wiringSizeIssues(flow: FlowSpec, queueNames: readonly string[]): ConfigIssue[] {
  const bytes =
    ENVIRONMENT_OVERHEAD_BYTES +
    queueNames.reduce((sum, name, i) => sum + QUEUE_URL_HEAD.length + name.length + String(i).length + 6, 0);
  if (bytes <= LAMBDA_ENVIRONMENT_BYTES) return [];
  return [
    located(
      flow.at,
      `flow "${flow.flowId}" has ${flow.steps.length} steps: the queue URLs each step may send to need about ${bytes} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_BYTES}; split the flow in two, joined through a connector`,
    ),
  ];
}

/** A `dynamodb_stream` source names one of the project's `dynamodb` connectors, whose table gets the stream. */
function sourceIssues(project: ProjectConfig, flow: FlowSpec): ConfigIssue[] {
  const stream = flow.source?.dynamodbStream;
  if (stream?.connector === undefined) return [];
  const where = `flow "${flow.flowId}": source.dynamodb_stream.connector`;
  const conn = project.conns.get(stream.connector);
  if (conn === undefined) {
    const known = [...project.conns.values()].filter((c) => c.type === 'dynamodb').map((c) => `"${c.cid}"`);
    const hint = didYouMean(stream.connector, project.conns.keys());
    return [
      located(
        stream.at ?? flow.at,
        `${where} names "${stream.connector}", which is no connector${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of the project's dynamodb connectors: ${known.join(', ') || 'none (add a kistype: conn document)'}, or stream_arn for a table outside the project`,
      ),
    ];
  }
  if (conn.type !== 'dynamodb') {
    return [
      located(
        stream.at ?? flow.at,
        `${where} names "${conn.cid}", a connector of type ${conn.type}, which has no DynamoDB table; expected a connector of type dynamodb, or stream_arn`,
      ),
    ];
  }
  return [];
}

/** The `jump_targets` params of a flow's steps (the function's default, or the step's own). */
function jumpTargetIssues(project: ProjectConfig, flow: FlowSpec): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const fids = new Set(flow.steps.map((s) => s.fid));
  flow.steps.forEach((step, i) => {
    const func = project.funcs.get(step.fid);
    const raw: ParamValue | undefined = { ...func?.defaultParams, ...step.params }[JUMP_TARGETS_PARAM];
    if (raw === undefined || raw === null) return;
    const where = `step ${i} (${step.fid}) of flow '${flow.flowId}'`;
    const at = step.at ?? flow.at;
    const listed = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
    if (!listed || listed.some((f) => typeof f !== 'string')) {
      issues.push(
        located(
          at,
          `${where}: param ${JUMP_TARGETS_PARAM} is ${JSON.stringify(raw)}; it must be a fid or a list of fids of this flow's steps (it is optional: a step may jump to any step of its flow)`,
        ),
      );
      return;
    }
    for (const fid of listed as string[]) {
      if (fids.has(fid)) continue;
      const known = [...fids].map((f) => `'${f}'`).join(', ');
      const hint = project.funcs.has(fid) ? ` '${fid}' is a function, but no step of this flow runs it.` : '';
      issues.push(
        located(
          at,
          `${where}: ${JUMP_TARGETS_PARAM} names '${fid}', which no step of the flow runs.${hint} Steps run: ${known}`,
        ),
      );
    }
  });
  return issues;
}
