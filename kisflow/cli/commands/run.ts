import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { loadProject } from '../../config/index.ts';
import { FlowPlan, loadFunctions, runFlow } from '../../engine/index.ts';
import { rowProblem } from '../../engine/row-values.ts';
import { KisFlowError, UsageError } from '../../errors.ts';
import { MemoryConnectorStore, MemoryMetrics, MemoryStateStore, silentLog } from '../../memory/index.ts';
import type { RejectedRow, Row } from '../../ports.ts';
import { fsReason, openJsonLinesWriter, readJsonLines } from '../jsonl.ts';

interface RunOptions {
  dir: string;
  input: string;
  output: string;
  store: string;
  fresh?: boolean;
  batchRows: string;
  strict?: boolean;
}

interface LocalStores {
  readonly connectors: MemoryConnectorStore;
  readonly state: MemoryStateStore;
}

/**
 * Connectors and keyed state persist between runs (a JSON file) so that `kisflow run` of one
 * flow then another merges them through Save/Load, and running totals keep counting, as they
 * would in DynamoDB.
 */
async function openStores(file: string, fresh: boolean): Promise<LocalStores> {
  const empty = { connectors: new MemoryConnectorStore(), state: new MemoryStateStore() };
  if (fresh) return empty;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw new UsageError('STORE_UNREADABLE', `cannot read the local store ${file}: ${(e as Error).message}`);
  }
  try {
    const saved = JSON.parse(text) as { connectors?: unknown; state?: unknown };
    return {
      connectors: MemoryConnectorStore.restore(saved.connectors),
      state: MemoryStateStore.restore(saved.state),
    };
  } catch (e) {
    throw new UsageError(
      'STORE_UNREADABLE',
      `the local store ${file} is not usable (${(e as Error).message}); run with --fresh to start empty`,
    );
  }
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

/** What a record carries for a row JSON cannot carry (a last guard: the engine checks rows as they leave each step). */
function printable(row: Row): { row: Row; problem?: string } {
  const problem = rowProblem(row);
  return problem === undefined ? { row } : { row: { kisflow_unserializable_row: problem }, problem };
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
      const stores = await openStores(opts.store, opts.fresh === true);
      const { rows, malformed } = await readJsonLines(opts.input);
      const metrics = new MemoryMetrics();
      reportStrayErrors();

      const result = await runFlow(
        plan,
        rows,
        registry,
        { store: stores.connectors, state: stores.state, metrics, log: silentLog },
        // Rows are checked between steps as they would be between Lambda steps: a value JSON
        // cannot carry fails at the step that committed it, as in AWS.
        { batchRows, onBatch: progress(rows.length), handoff: 'serialized' },
      );

      const unprintable: RejectedRow[] = [];
      const out = await openJsonLinesWriter(opts.output);
      for (const row of result.output) {
        const { problem } = printable(row);
        if (problem === undefined) await out.write(row);
        else
          unprintable.push({
            flowId,
            step: -1,
            fid: '(output)',
            code: 'BAD_ROW',
            reason: `An output row cannot be written as JSON unchanged: ${problem}.`,
            row: printable(row).row,
          });
      }
      await out.close();

      const rejected: RejectedRow[] = [
        ...malformed.map((m) => ({
          flowId,
          step: -1,
          fid: '(input)',
          code: 'MALFORMED_ROW',
          reason: `${opts.input}:${m.line}: ${m.reason}`,
          row: { line: m.text },
        })),
        ...result.rejected.map((r) => ({ ...r, row: printable(r.row).row })),
        ...unprintable,
      ];
      for (const r of rejected) process.stderr.write(`rejected ${JSON.stringify(r)}\n`);

      try {
        await mkdir(dirname(opts.store), { recursive: true });
        await writeFile(
          opts.store,
          JSON.stringify({ connectors: stores.connectors.snapshot(), state: stores.state.snapshot() }),
        );
      } catch (e) {
        throw new UsageError(
          'STORE_UNWRITABLE',
          `cannot write the local store ${opts.store}: ${fsReason(e)}`,
        );
      }

      const { stats } = result;
      const seconds = Math.max(stats.ms, 0.001) / 1000;
      const rate = Math.round(stats.rowsIn / seconds).toLocaleString('en-US');
      const rowsOut = stats.rowsOut - unprintable.length;
      process.stderr.write(
        `${flowId}: ${stats.rowsIn + malformed.length} rows in, ${rowsOut} out, ${rejected.length} rejected, ${stats.dropped} dropped in ${stats.ms.toFixed(1)} ms (${rate} rows/s)\n`,
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
