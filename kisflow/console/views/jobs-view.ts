import { jobNext, listJobs } from '../../cli/commands/jobs.ts';
import type { ConsoleContext } from '../console-context.ts';
import { type RunView, runView } from './runs-view.ts';

const DAY = 86_400_000;

/** The Jobs page: `kisflow jobs list` with the next five fires and the recent runs of each job. */
export async function jobsView(context: ConsoleContext, days = 7) {
  const project = await context.project();
  const now = context.now();
  const rows = await listJobs(project, context.ledger, new Date(now), now - days * DAY);
  return Promise.all(
    rows.map(async (row) => {
      const job = project.jobs.get(row.job);
      const recent: RunView[] = (
        await context.ledger.list({ jobId: row.job, since: now - 30 * DAY, limit: 10 })
      ).map((r) => runView(r, now, context.region));
      return {
        ...row,
        params: job?.params ?? {},
        nextFires: job && row.state === 'enabled' ? jobNext(job, 5, new Date(now)) : [],
        recent,
      };
    }),
  );
}
export type JobView = Awaited<ReturnType<typeof jobsView>>[number];
