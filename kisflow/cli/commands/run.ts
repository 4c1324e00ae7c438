import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadProject } from '../../config/index.ts';
import type { ProjectConfig } from '../../config/model.ts';
import { FlowPlan, type FlowResult, loadFunctions, runFlow, type StepStats } from '../../engine/index.ts';
import { rootBatches } from '../../engine/run-flow.ts';
import { KisFlowError, UsageError } from '../../errors.ts';
import { MemoryMetrics, silentLog } from '../../memory/index.ts';
import type { RejectedRow } from '../../ports.ts';
import { MemoryRunLedger } from '../../runs/memory-run-ledger.ts';
import type { RunRecord } from '../../runs/run-ledger.ts';
import { stringifyForReport } from '../exact-json.ts';
import { openJsonLinesWriter, readJsonLines } from '../jsonl.ts';
import { openLocalStore } from '../local-store.ts';
import { jobFlows, runJob } from '../run-job.ts';
import { findJob, parseParams } from './jobs.ts';

interface RunOptions {
  dir: string;
  input: string;
  output: string;
  store: string;
  fresh?: boolean;
  batchRows: string;
  strict?: boolean;
  job?: string;
  param: string[];
}

/** Exit codes of `kisflow run --job`, in its help. */
const JOB_EXIT_CODES = `
Exit codes with --job (the job's run, after its retries):
  0  succeeded
  1  failed, partial, cancelled or skipped; or bad input (the message says what)
  2  timed out
  70 internal error (please report it)`;

function exitCodeOf(status: RunRecord['status']): number {
  if (status === 'succeeded') return 0;
  return status === 'timed_out' ? 2 : 1;
}

function progress(total: number): ((done: number) => void) | undefined {
  // Only on a terminal, and only when there is enough to wait for.
  if (!process.stderr.isTTY || total < 50_000) return undefined;
  const started = Date.now();
  return (done) => {
    const s = (Date.now() - started) / 1000;
    process.stderr.write(
      `\r${done}/${total} rows (${Math.round((100 * done) / total)}%), ${Math.round(done / Math.max(s, 1e-3))} rows/s `,
    );
    if (done >= total) process.stderr.write('\n');
  };
}

/**
 * Errors thrown outside any step (a function's un-awaited work, such as a ctx.commit after its
 * handler returned) are reported and fail the run, instead of killing it with a stack trace.
 * (A function awaiting a promise that can never settle cannot make Node exit 13 with the run
 * half done: the step's watchdog timer keeps the process alive until the batch times out.)
 */
function reportStrayErrors(): void {
  const report = (err: unknown) => {
    // It may come after the summary, from work the function left running: the run failed still.
    process.exitCode = 1;
    const text =
      err instanceof KisFlowError
        ? err.message
        : `a function's un-awaited work failed: ${(err as Error)?.stack ?? String(err)}`;
    process.stderr.write(`kisflow run: ${text}\n`);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The summary `kisflow run` prints on stderr: totals, the run line, then one line per step. */
function writeSummary(
  flowId: string,
  stats: FlowResult['stats'],
  extra: { readonly input: number; readonly unwritable: number; readonly rejected: number },
  runLine: string,
): void {
  const seconds = Math.max(stats.ms, 0.001) / 1000;
  const rate = Math.round(stats.rowsIn / seconds).toLocaleString('en-US');
  process.stderr.write(
    `${flowId}: ${stats.rowsIn + extra.input} rows in, ${stats.rowsOut - extra.unwritable} out, ${extra.rejected} rejected, ${stats.dropped} dropped in ${stats.ms.toFixed(1)} ms (${rate} rows/s)\n`,
  );
  process.stderr.write(`${runLine}\n`);
  writeSteps(stats.steps);
}

function writeSteps(steps: readonly Omit<StepStats, 'ms'>[]): void {
  for (const s of steps) {
    const drops = Object.entries(s.drops).map(([code, n]) => `${code} ${n}`);
    const created = s.created > 0 ? `, ${s.created} created` : '';
    process.stderr.write(
      `  ${String(s.step).padStart(2)} ${s.fid.padEnd(24)} ${s.in} in, ${s.out} out, ${s.rejected} rejected, ${s.dropped} dropped${drops.length > 0 ? ` (${drops.join(', ')})` : ''}${created}\n`,
    );
  }
}

/** `run <id>: <status> (job J, trigger t[, after P][, N shards])[: reason]`. */
function runLine(run: RunRecord): string {
  const after = run.parentRunId === undefined ? '' : `, after ${run.parentRunId}`;
  const reason = run.reason === undefined ? '' : `: ${run.reason}`;
  const shards = run.batches.roots > 1 ? `, ${run.batches.roots} shards` : '';
  return `  run ${run.id}: ${run.status} (job ${run.jobId ?? '-'}, trigger ${run.trigger}${after}${shards})${reason}`;
}

/**
 * `kisflow run --job`: one fire of the job through job control in-process (run-job.ts). Each run
 * it leads to prints its summary as it ends, its output rows go to --output; the fire's run id is
 * the last line of stdout, and the exit code is its run's (after its retries).
 */
async function runJobCommand(
  project: ProjectConfig,
  jobId: string,
  flowId: string | undefined,
  opts: RunOptions,
): Promise<void> {
  const job = findJob(project, jobId);
  if (flowId !== undefined && flowId !== job.flowId) {
    throw new UsageError(
      'BAD_OPTION',
      `Job '${jobId}' runs flow '${job.flowId}', not '${flowId}': leave the flow id out, or give '${job.flowId}'.`,
      { jobId, flowId, jobFlow: job.flowId },
    );
  }
  const flowIds = jobFlows(project, job);
  for (const id of flowIds) {
    const plan = FlowPlan.build(project, id);
    if (!plan.flow.enabled) {
      throw new UsageError(
        'FLOW_DISABLED',
        `Flow '${id}' (run by job '${jobId}'${id === job.flowId ? '' : ' or one of its child jobs'}) has status: 0, so its runs would never end. Set status: 1 to run it.`,
        { flowId: id, jobId },
      );
    }
  }
  const params = parseParams(opts.param);
  const registry = await loadFunctions(project, { flowIds });
  reportStrayErrors();
  const stores = await openLocalStore(opts.store, {
    fresh: opts.fresh === true,
    onWait: (message) => process.stderr.write(`${message}\n`),
  });
  const out = await openJsonLinesWriter(opts.output);
  let report: Awaited<ReturnType<typeof runJob>>;
  try {
    report = await runJob(
      project,
      job,
      registry,
      { store: stores.connectors, state: stores.state, metrics: new MemoryMetrics(), log: silentLog },
      {
        params,
        onRun: async (run, result) => {
          if (result === undefined) {
            process.stderr.write(
              `${run.flowId}: run ended while a function still ran on a batch; that work is left behind\n`,
            );
            process.stderr.write(`${runLine(run)}\n`);
            writeSteps(
              run.steps.map((s) => ({ ...s, step: s.index, fid: s.fid ?? '', created: 0, drops: {} })),
            );
            return;
          }
          // Kept before the rows are written: output printed is output whose saves are stored.
          await stores.save();
          const unwritable: RejectedRow[] = [];
          for (const row of result.output) {
            const problem = await out.write(row);
            if (problem) unwritable.push({ flowId: run.flowId, step: -1, fid: '(output)', ...problem, row });
          }
          const rejected = [...result.rejected, ...unwritable];
          for (const r of rejected) process.stderr.write(`rejected ${stringifyForReport(r)}\n`);
          writeSummary(
            run.flowId,
            result.stats,
            { input: 0, unwritable: unwritable.length, rejected: rejected.length },
            runLine(run),
          );
        },
        onAlert: (alert) => process.stderr.write(`ALERT ${alert.runId} ${alert.rule}: ${alert.message}\n`),
        onWait: (message, ms) => {
          if (message.kind === 'retry') {
            process.stderr.write(
              `retry ${message.run} of run ${message.parent} in ${(ms / 1000).toFixed(1)} s\n`,
            );
          }
        },
      },
    );
    await stores.save();
  } finally {
    await stores.release();
  }
  await out.close();
  const { final } = report;
  if (final.id !== report.runId) {
    process.stderr.write(
      `job ${jobId}: run ${report.runId} ended ${final.status} after its retries (${final.id})\n`,
    );
  }
  process.stdout.write(`${report.runId}\n`);
  process.exitCode = exitCodeOf(final.status);
  // A timed-out run's function may still run (a timer, a socket): the fire is over, and must not hang on it.
  if (report.abandoned) process.exit();
}

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'run a flow in-process on memory adapters: output rows as JSON Lines on stdout, rejected rows and a summary on stderr',
    )
    .argument('[flow_id]', "the flow to run (with --job: the job's, may be left out)")
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('-i, --input <file>', 'input rows as JSON Lines, - for stdin', '-')
    .option('-o, --output <file>', 'where output rows go, - for stdout', '-')
    .option('--store <file>', 'local connector and state store kept between runs', '.kisflow/store.json')
    .option('--fresh', 'start from an empty store')
    .option('--batch-rows <n>', 'rows per batch through the steps', '1000')
    .option('--strict', 'exit 1 when any row was rejected or dropped')
    .option(
      '--job <job>',
      'run one fire of a job instead of input rows: its shards, timeout, retries (after their interval), child jobs and alerts (on stderr); the run id is the last line of stdout',
    )
    .option(
      '-p, --param <k=v>',
      'with --job: a param of the fire (repeatable); overrides the job params',
      collect,
      [],
    )
    .addHelpText('after', JOB_EXIT_CODES)
    .action(async (flowId: string | undefined, opts: RunOptions, command: Command) => {
      if (opts.job !== undefined) {
        if (
          command.getOptionValueSource('input') === 'cli' ||
          command.getOptionValueSource('batchRows') === 'cli'
        ) {
          throw new UsageError(
            'BAD_OPTION',
            '--job runs the rows the job fires with (its `rows`, or one { job_id, scheduled_at } per shard): --input and --batch-rows do not apply.',
          );
        }
        await runJobCommand(await loadProject(opts.dir), opts.job, flowId, opts);
        return;
      }
      if (opts.param.length > 0) {
        throw new UsageError(
          'BAD_OPTION',
          '--param is for --job: a flow run takes its input rows (--input).',
        );
      }
      if (flowId === undefined) {
        throw new UsageError(
          'MISSING_ARGUMENT',
          'kisflow run needs a flow id (or --job <job>): kisflow run <flow_id> --input rows.jsonl',
        );
      }
      const batchRows = Number(opts.batchRows);
      if (!Number.isInteger(batchRows) || batchRows < 1) {
        throw new UsageError(
          'BAD_OPTION',
          `--batch-rows must be a positive integer, got "${opts.batchRows}"`,
        );
      }
      const project = await loadProject(opts.dir);
      const plan = FlowPlan.build(project, flowId);
      const registry = await loadFunctions(project, { flowIds: [flowId] });
      const { rows, malformed } = await readJsonLines(opts.input);
      const metrics = new MemoryMetrics();
      reportStrayErrors();
      // Held from reading the store to writing it: a concurrent run waits instead of losing saves.
      const stores = await openLocalStore(opts.store, {
        fresh: opts.fresh === true,
        onWait: (message) => process.stderr.write(`${message}\n`),
      });
      let result: Awaited<ReturnType<typeof runFlow>>;
      // The same accounting as under `kisflow dev` and on AWS, in memory: the run's status below.
      const ledger = new MemoryRunLedger();
      const runId = `manual-${randomUUID()}`;
      await ledger.start({ runId, flowId, trigger: 'manual', roots: rootBatches(rows.length, batchRows) });
      try {
        result = await runFlow(
          plan,
          rows,
          registry,
          { store: stores.connectors, state: stores.state, metrics, log: silentLog },
          // Rows are checked between steps as they would be between Lambda steps: a value JSON
          // cannot carry fails at the step that committed it, as in AWS.
          { runId, batchRows, onBatch: progress(rows.length), handoff: 'serialized', ledger },
        );
        // Kept before anything is reported: output printed is output whose saves are stored.
        await stores.save();
      } finally {
        await stores.release();
      }

      const out = await openJsonLinesWriter(opts.output);
      const unwritable: RejectedRow[] = [];
      for (const row of result.output) {
        const problem = await out.write(row);
        if (problem) unwritable.push({ flowId, step: -1, fid: '(output)', ...problem, row });
      }
      await out.close();

      const rejected: RejectedRow[] = [
        ...malformed.map((m) => ({
          flowId,
          step: -1,
          fid: '(input)',
          code: m.code,
          reason: `${opts.input}:${m.line}: ${m.reason}`,
          row: { line: m.text },
        })),
        ...result.rejected,
        ...unwritable,
      ];
      for (const r of rejected) process.stderr.write(`rejected ${stringifyForReport(r)}\n`);

      const run = await ledger.get(runId);
      writeSummary(
        flowId,
        result.stats,
        { input: malformed.length, unwritable: unwritable.length, rejected: rejected.length },
        `  run ${runId}: ${plan.flow.enabled ? (run?.status ?? 'unknown') : 'not run (flow disabled)'}`,
      );
      if (opts.strict === true && (rejected.length > 0 || result.stats.dropped > 0)) {
        process.stderr.write(
          `kisflow run --strict: ${rejected.length} row(s) rejected, ${result.stats.dropped} dropped\n`,
        );
        process.exitCode = 1;
      }
      // A step that timed out may have left its function running (a timer, a socket): the run is
      // over, and must not hang on it.
      if (rejected.some((r) => r.code === 'TIMEOUT')) process.exit();
    });
}
