import { resourceNames } from '../../config/names.ts';
import { fauxqsOldestMessageAge, NoQueueInspection } from '../../local/fauxqs-queue-ages.ts';
import type { RunRecord } from '../../runs/run-ledger.ts';
import type { ConsoleContext } from '../console-context.ts';
import { type CloudWatchStepFigures, readCloudWatchStepFigures } from './cloudwatch-step-figures.ts';
import { type StepFigure, unknown } from './figure.ts';
import { ledgerStepP95 } from './ledger-step-p95.ts';

/** The Flow page's live figures of one step. */
export interface StepFigures {
  /** Age of the oldest message in the step's input queue. */
  readonly oldestAge: StepFigure;
  /** The step's p95 duration. */
  readonly p95: StepFigure;
}

// CloudWatch's data has one-minute resolution and bills per metric read: one read a minute.
const CLOUDWATCH_TTL_MS = 60_000;
// fauxqs is local and the page refreshes about every second: as fresh as the queue depths.
const FAUXQS_TTL_MS = 1_000;

const failed = (error: unknown): StepFigure =>
  unknown('readFailed', error instanceof Error ? error.message : String(error));

/**
 * One source per figure and deployment. On AWS, CloudWatch for both (what the flow's dashboard
 * and alarms read). Elsewhere (`kisflow dev`, `--endpoint`), the age from fauxqs's queue
 * inspection (a server that is not fauxqs reports none, so it is unknown) and the p95 from the
 * run ledger's per-run step timings over `runs`, the same runs as the page's counts (a promise:
 * the queues are read while the ledger is).
 */
export async function stepFigures(
  context: ConsoleContext,
  flowId: string,
  fids: readonly string[],
  runs: Promise<readonly RunRecord[]>,
): Promise<StepFigures[]> {
  const queues = (await context.resources()).flows[flowId]?.stepQueues ?? [];
  if (context.source === 'aws') {
    let read: Map<number, CloudWatchStepFigures>;
    try {
      read = await context.cached(`cloudwatch#${flowId}`, CLOUDWATCH_TTL_MS, () =>
        readCloudWatchStepFigures(
          context.cloudwatch(),
          resourceNames(context.prefix).flowMonitoring(flowId),
          queues.map((url, index) => ({ index, queueName: queueName(url) })),
          context.now(),
        ),
      );
    } catch (error) {
      return fids.map(() => ({ oldestAge: failed(error), p95: failed(error) }));
    }
    return fids.map(
      (_, index) => read.get(index) ?? { oldestAge: unknown('noDatapoints'), p95: unknown('noDatapoints') },
    );
  }
  const [ages, recent] = await Promise.all([
    context.cached(`fauxqs#${flowId}`, FAUXQS_TTL_MS, () => fauxqsAges(context, queues)),
    runs,
  ]);
  return fids.map((fid, index) => ({
    oldestAge: ages[index] ?? unknown('ageUnsupported'),
    p95: ledgerStepP95(recent, index, fid),
  }));
}

async function fauxqsAges(context: ConsoleContext, queues: readonly string[]): Promise<StepFigure[]> {
  const endpoint = context.sqsEndpoint;
  if (endpoint === undefined) return queues.map(() => unknown('ageUnsupported'));
  const now = context.now();
  return Promise.all(
    queues.map(async (url): Promise<StepFigure> => {
      try {
        return { value: await fauxqsOldestMessageAge(endpoint, queueName(url), now), note: 'ageFauxqs' };
      } catch (error) {
        return error instanceof NoQueueInspection ? unknown('ageUnsupported', error.message) : failed(error);
      }
    }),
  );
}

/** The name in a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
function queueName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
}
