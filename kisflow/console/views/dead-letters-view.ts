import { listDeadLetters } from '../../aws/dead-letters.ts';
import { enabledFlow } from '../../cli/deployment.ts';
import { readDeadLetterBody } from '../../wire/dead-letter-record.ts';
import type { ConsoleContext } from '../console-context.ts';

const SAMPLE_ROWS = 3;

/** One dead letter as the Dead letters page lists it (`kisflow dlq --json`, plus its run and samples). */
export interface DeadLetterView {
  readonly flowId: string;
  /** The DLQ it sits in (the step that failed it). */
  readonly step: number;
  readonly fid: string | null;
  readonly messageId: string;
  readonly code: string;
  readonly message: string;
  readonly rows: number;
  readonly receivedCount: number;
  readonly runId: string | null;
  /** The first rows it carries, with each one's reason where it was rejected. */
  readonly samples: readonly { readonly row: unknown; readonly code?: string; readonly reason?: string }[];
}

/**
 * The dead letters of `flowId` (every step's DLQ), left in place: `listDeadLetters` makes each
 * visible again at once, so a listing never holds up a redrive for long.
 */
export async function deadLetters(
  context: ConsoleContext,
  flowId: string,
  max = 100,
): Promise<DeadLetterView[]> {
  const project = await context.project();
  const flow = enabledFlow(project, flowId);
  const queues = (await context.resources()).flows[flowId];
  if (queues === undefined) return [];
  const perStep = await Promise.all(
    flow.steps.map(async (_, step) =>
      (await listDeadLetters(context.clients.sqs, queues.stepDeadLetterQueues[step] as string, { max })).map(
        (letter): DeadLetterView => {
          const read = readDeadLetterBody(letter.body);
          return {
            flowId,
            step,
            fid: flow.steps[step]?.fid ?? null,
            messageId: letter.messageId,
            code: letter.code,
            message: letter.message,
            rows: letter.rows,
            receivedCount: letter.receivedCount,
            runId:
              read.kind === 'rejected'
                ? read.record.run
                : read.kind === 'envelope'
                  ? read.envelope.run
                  : null,
            samples:
              read.kind === 'rejected'
                ? read.record.rows
                    .slice(0, SAMPLE_ROWS)
                    .map((r) => ({ row: r.row, code: r.code, reason: r.reason }))
                : read.kind === 'envelope'
                  ? read.envelope.rows.slice(0, SAMPLE_ROWS).map((row) => ({ row }))
                  : [],
          };
        },
      ),
    ),
  );
  return perStep.flat();
}
