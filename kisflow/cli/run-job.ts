import type { JobSpec, Params, ProjectConfig } from '../config/model.ts';
import type { EngineDeps } from '../engine/deps.ts';
import { FlowPlan, type FlowResult, type Registry } from '../engine/index.ts';
import { runBatches } from '../engine/run-flow.ts';
import type { StepBatch } from '../ports.ts';
import type { Alert } from '../runs/alerts.ts';
import { JobControl } from '../runs/job-control.ts';
import { jobPolicy } from '../runs/job-policy.ts';
import { MemoryRunLedger } from '../runs/memory-run-ledger.ts';
import { retryAttempt, rootRunId } from '../runs/retry-plan.ts';
import type { RunRecord } from '../runs/run-ledger.ts';
import { CONTROL_VERSION, type ControlMessage, manualFire } from '../wire/control-message.ts';

export interface RunJobOptions {
  /** Params of this fire; they override the job's. */
  readonly params?: Params;
  /** How rows pass between steps (see RunFlowOptions.handoff). @default 'serialized' */
  readonly handoff?: 'memory' | 'serialized';
  /**
   * After each run's batches went through its flow. `result` is undefined for a run that ended
   * early (timed out) while a batch was still in a function: that work is left behind.
   */
  readonly onRun?: (run: RunRecord, result: FlowResult | undefined) => void | Promise<void>;
  /** Each alert job control publishes (the alert topic on AWS). */
  readonly onAlert?: (alert: Alert) => void;
  /** Before waiting `ms` for a control message that is not due yet (a retry's interval). */
  readonly onWait?: (message: ControlMessage, ms: number) => void;
  /** How often running runs are checked against their timeout. @default 250 */
  readonly sweepMs?: number;
}

export interface JobRunReport {
  /** The fire's run: the id `kisflow run --job` prints last. */
  readonly runId: string;
  /** The run that decides the outcome: the fire's, or the last retry of it. */
  readonly final: RunRecord;
  /** Every run the fire led to, in the order they ran (retries and child jobs included). */
  readonly runs: readonly RunRecord[];
  /** A timed-out run's function was still running when the run ended: the caller should exit, not wait for it. */
  readonly abandoned: boolean;
}

/** The flows a fire of `job` may run: its own and those of the child jobs it can start, transitively. */
export function jobFlows(project: ProjectConfig, job: JobSpec): string[] {
  const seen = new Set<string>();
  const flows = new Set<string>();
  const visit = (j: JobSpec) => {
    if (seen.has(j.jobId)) return;
    seen.add(j.jobId);
    flows.add(j.flowId);
    const policy = jobPolicy(j);
    for (const id of [...policy.onSuccess, ...policy.onFailure]) {
      const child = project.jobs.get(id);
      if (child !== undefined) visit(child);
    }
  };
  visit(job);
  return [...flows];
}

const ENDED_EARLY = new Set(['timed_out', 'cancelled']);

/**
 * One fire of `job`, in-process, with the job's semantics: the fire goes through the same job
 * control as under `kisflow dev` and on AWS (kisflow/runs/job-control.ts: shards, timeout, the
 * retry with its interval, child jobs, alerts), with its ports in memory. The control queue is
 * an array with due times, the flows' first queues are `runBatches`, the ledger a
 * MemoryRunLedger. It returns when nothing is left to run: no tick batch, no control message.
 *
 * @example const report = await runJob(project, job, registry, { store, state });
 */
export async function runJob(
  project: ProjectConfig,
  job: JobSpec,
  registry: Registry,
  deps: EngineDeps,
  options: RunJobOptions = {},
): Promise<JobRunReport> {
  const ledger = new MemoryRunLedger();
  const ticks: StepBatch[][] = [];
  const queue: { message: ControlMessage; dueAt: number }[] = [];
  const control = new JobControl({
    project,
    ledger,
    sendTicks: async (_flowId, batches) => {
      if (batches.length > 0) ticks.push([...batches]);
    },
    sendControl: async (message, delaySeconds) => {
      queue.push({ message, dueAt: Date.now() + delaySeconds * 1000 });
    },
    publish: async (alert) => options.onAlert?.(alert),
  });
  const plans = new Map<string, FlowPlan>();
  const planOf = (flowId: string) => {
    const plan = plans.get(flowId) ?? FlowPlan.build(project, flowId);
    plans.set(flowId, plan);
    return plan;
  };
  const sweepMs = options.sweepMs ?? 250;
  const runs: RunRecord[] = [];
  let abandoned = false;

  const fire = manualFire(job.jobId, options.params);
  const runId = fire.run;
  await control.handle(fire);

  for (;;) {
    const batches = ticks.shift();
    if (batches !== undefined) {
      const id = (batches[0] as StepBatch).runId;
      const result = await untilDoneOrEnded(
        runBatches(planOf((batches[0] as StepBatch).flowId), batches, registry, deps, {
          runId: id,
          ledger,
          handoff: options.handoff ?? 'serialized',
          // As a step announces a run's end on the control queue: job control hands it on.
          onRunEnded: async (ended) => {
            queue.push({ message: { v: CONTROL_VERSION, kind: 'run-ended', run: ended }, dueAt: Date.now() });
          },
        }),
        async () => ENDED_EARLY.has((await ledger.status(id)) ?? ''),
        // The timeout half of job control's sweep; the ends it makes are handed on after the
        // run's summary, by the loop, as `run-ended` messages.
        async () => {
          for (const ended of await ledger.sweep()) {
            queue.push({ message: { v: CONTROL_VERSION, kind: 'run-ended', run: ended }, dueAt: Date.now() });
          }
        },
        sweepMs,
      );
      if (result === undefined) abandoned = true;
      const run = await ledger.get(id);
      if (run !== undefined) {
        runs.push(run);
        await options.onRun?.(run, result);
      }
      continue;
    }
    queue.sort((a, b) => a.dueAt - b.dueAt);
    const next = queue.shift();
    if (next !== undefined) {
      const wait = next.dueAt - Date.now();
      if (wait > 0) {
        options.onWait?.(next.message, wait);
        await new Promise((r) => setTimeout(r, wait));
      }
      await control.handle(next.message);
      continue;
    }
    // The repair pass, as the sweep timer does under `kisflow dev`: an end no message announced.
    await control.sweep();
    if (ticks.length === 0 && queue.length === 0) break;
  }

  const root = (await ledger.get(runId)) as RunRecord;
  const chain = (await ledger.list({ jobId: job.jobId })).filter((r) => rootRunId(r.id) === runId);
  const final = chain.reduce((a, b) => (retryAttempt(b.id) > retryAttempt(a.id) ? b : a), root);
  return { runId, final, runs, abandoned };
}

/**
 * The flow run's result, or undefined when `ended` said the run ended early first (`sweep`,
 * every `everyMs`, timed it out while a function still ran): its remaining batches are dropped
 * when they come up, and nothing waits for the one in flight. One sweep at a time; none is left
 * running on return.
 */
async function untilDoneOrEnded(
  flowRun: Promise<FlowResult>,
  ended: () => Promise<boolean>,
  sweep: () => Promise<unknown>,
  everyMs: number,
): Promise<FlowResult | undefined> {
  let sweeping: Promise<unknown> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const early = new Promise<undefined>((resolve, reject) => {
    timer = setInterval(() => {
      if (sweeping !== undefined) return;
      sweeping = sweep()
        .then(ended)
        .then((yes) => {
          if (yes) resolve(undefined);
        }, reject)
        .finally(() => {
          sweeping = undefined;
        });
    }, everyMs);
  });
  try {
    return await Promise.race([flowRun, early]);
  } finally {
    clearInterval(timer);
    await sweeping;
    // A flow run left behind must not surface later as an unhandled rejection.
    flowRun.catch(() => {});
  }
}
