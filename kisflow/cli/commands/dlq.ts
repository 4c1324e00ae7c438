import type { Command } from 'commander';
import { type DeadLetter, listDeadLetters } from '../../aws/dead-letters.ts';
import type { FlowSpec } from '../../config/model.ts';
import { UsageError } from '../../errors.ts';
import {
  type DeploymentOptions,
  deploymentOptions,
  openDeployment,
  positiveInteger,
} from '../deployment-options.ts';

interface DlqOptions extends DeploymentOptions {
  step?: string;
  run?: string;
  max: string;
  json?: boolean;
}

/** The step indexes `--step` selects: every step running that fid, or one index; all without it. */
export function selectSteps(flow: FlowSpec, step: string | undefined): number[] {
  const all = flow.steps.map((_, i) => i);
  if (step === undefined) return all;
  const byFid = all.filter((i) => flow.steps[i]?.fid === step);
  if (byFid.length > 0) return byFid;
  if (/^\d+$/.test(step) && Number(step) < flow.steps.length) return [Number(step)];
  throw new UsageError(
    'UNKNOWN_STEP',
    `Flow '${flow.flowId}' has no step '${step}' (steps: ${flow.steps.map((s, i) => `${i} ${s.fid}`).join(', ')}). Give a fid or a step index.`,
    { flowId: flow.flowId, step },
  );
}

/** Rows as an aligned text table. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `kisflow dlq <flow_id>`: a flow's dead letters with their reasons, left in place. */
export function register(program: Command): void {
  deploymentOptions(program.command('dlq'))
    .description("list a flow's dead letters with the reason each one is there (they stay in the DLQ)")
    .argument('<flow_id>', 'the flow')
    .option('--step <fid>', 'only the step(s) running this fid (or a step index)')
    .option('--run <run>', 'only dead letters of this run')
    .option('--max <n>', 'at most this many per step', '1000')
    .option('--json', 'one JSON object per dead letter instead of a table')
    .action(async (flowId: string, opts: DlqOptions) => {
      const max = positiveInteger(opts.max, '--max') ?? 1000;
      const deployment = await openDeployment(flowId, opts);
      try {
        const { flow, queues } = deployment;
        const found: { step: number; letter: DeadLetter }[] = [];
        for (const step of selectSteps(flow, opts.step)) {
          const url = queues.stepDeadLetterQueues[step] as string;
          for (const letter of await listDeadLetters(deployment.clients.sqs, url, { max })) {
            if (opts.run === undefined || letter.runId === opts.run) found.push({ step, letter });
          }
        }
        if (opts.json) {
          for (const { step, letter } of found) {
            process.stdout.write(`${JSON.stringify({ step, fid: flow.steps[step]?.fid, ...letter })}\n`);
          }
          return;
        }
        if (found.length === 0) {
          process.stdout.write(`${flowId}: no dead letters\n`);
          return;
        }
        process.stdout.write(
          formatTable(
            ['STEP', 'RUN', 'CODE', 'ROWS', 'RECEIVED', 'MESSAGE'],
            found.map(({ step, letter }) => [
              `${step} ${flow.steps[step]?.fid ?? ''}`,
              letter.runId ?? '-',
              letter.code,
              String(letter.rows),
              String(letter.receivedCount),
              oneLine(letter.message),
            ]),
          ),
        );
        process.stdout.write(
          `${found.length} dead letter(s), ${found.reduce((n, f) => n + f.letter.rows, 0)} row(s); \`kisflow redrive ${flowId}\` sends them back, \`kisflow runs retry <run>\` as a new run\n`,
        );
      } finally {
        deployment.close();
      }
    });
}
