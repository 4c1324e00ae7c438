import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadProject } from '../../config/index.ts';
import { FlowPlan, loadFunctions, runFlow } from '../../engine/index.ts';
import { rootBatches } from '../../engine/run-flow.ts';
import { KisFlowError, UsageError } from '../../errors.ts';
import { MemoryMetrics, silentLog } from '../../memory/index.ts';
import type { RejectedRow } from '../../ports.ts';
import { MemoryRunLedger } from '../../runs/memory-run-ledger.ts';
import { stringifyForReport } from '../exact-json.ts';
import { openJsonLinesWriter, readJsonLines } from '../jsonl.ts';
import { openLocalStore } from '../local-store.ts';

interface RunOptions {
  dir: string;
  input: string;
  output: string;
  store: string;
  fresh?: boolean;
  batchRows: string;
  strict?: boolean;
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

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'run a flow in-process on memory adapters: output rows as JSON Lines on stdout, rejected rows and a summary on stderr',
    )
    .argument('<flow_id>', 'the flow to run')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('-i, --input <file>', 'input rows as JSON Lines, - for stdin', '-')
    .option('-o, --output <file>', 'where output rows go, - for stdout', '-')
    .option('--store <file>', 'local connector and state store kept between runs', '.kisflow/store.json')
    .option('--fresh', 'start from an empty store')
    .option('--batch-rows <n>', 'rows per batch through the steps', '1000')
    .option('--strict', 'exit 1 when any row was rejected or dropped')
    .action(async (flowId: string, opts: RunOptions) => {
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

      const { stats } = result;
      const seconds = Math.max(stats.ms, 0.001) / 1000;
      const rate = Math.round(stats.rowsIn / seconds).toLocaleString('en-US');
      process.stderr.write(
        `${flowId}: ${stats.rowsIn + malformed.length} rows in, ${stats.rowsOut - unwritable.length} out, ${rejected.length} rejected, ${stats.dropped} dropped in ${stats.ms.toFixed(1)} ms (${rate} rows/s)\n`,
      );
      const run = await ledger.get(runId);
      process.stderr.write(
        `  run ${runId}: ${plan.flow.enabled ? (run?.status ?? 'unknown') : 'not run (flow disabled)'}\n`,
      );
      for (const s of stats.steps) {
        const drops = Object.entries(s.drops).map(([code, n]) => `${code} ${n}`);
        const created = s.created > 0 ? `, ${s.created} created` : '';
        process.stderr.write(
          `  ${String(s.step).padStart(2)} ${s.fid.padEnd(24)} ${s.in} in, ${s.out} out, ${s.rejected} rejected, ${s.dropped} dropped${drops.length > 0 ? ` (${drops.join(', ')})` : ''}${created}\n`,
        );
      }
      if (opts.strict === true && (rejected.length > 0 || stats.dropped > 0)) {
        process.stderr.write(
          `kisflow run --strict: ${rejected.length} row(s) rejected, ${stats.dropped} dropped\n`,
        );
        process.exitCode = 1;
      }
      // A step that timed out may have left its function running (a timer, a socket): the run is
      // over, and must not hang on it.
      if (rejected.some((r) => r.code === 'TIMEOUT')) process.exit();
    });
}
