import * as z from 'zod';
import { type DocumentKind, defined } from './document-kind.ts';
import { idField, paramsField, paramValue, statusField } from './fields.ts';
import type { JobSpec } from './model.ts';
import { SCHEDULE_FORMS, scheduleProblem, timezoneProblem } from './schedule.ts';

const schema = z
  .strictObject({
    kistype: z.literal('job').describe('Document type: a timed job.'),
    job_id: idField.describe('Job id (any Unicode).'),
    schedule: z
      .string()
      .superRefine((text, ctx) => {
        const problem = scheduleProblem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)}: ${problem}` });
      })
      .meta({ examples: ['rate(5 minutes)', 'cron(0 8 * * ? *)', 'at(2026-12-01T08:00:00)'] })
      .describe(`When the job runs, in EventBridge Scheduler syntax: ${SCHEDULE_FORMS}.`),
    timezone: z
      .string()
      .superRefine((text, ctx) => {
        const problem = timezoneProblem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)}: ${problem}` });
      })
      .default('UTC')
      .describe('IANA time zone of `cron` and `at` schedules.'),
    flow_id: idField.describe('Id of the flow each tick starts.'),
    status: statusField
      .default(1)
      .describe(
        '1: on; 0: off: never fires locally; in AWS its schedule is deployed DISABLED (a deploy with 1 resumes it).',
      ),
    params: paramsField.optional().describe('Flow metadata given to each run.'),
    rows: z
      .array(z.record(z.string(), paramValue))
      .optional()
      .describe('Rows each tick carries into the flow. Default one row `{ job_id, scheduled_at }`.'),
  })
  .meta({
    title: 'job',
    examples: [
      {
        kistype: 'job',
        job_id: 'NightlyOrders',
        schedule: 'cron(0 2 * * ? *)',
        timezone: 'Europe/Paris',
        flow_id: 'Orders',
      },
    ],
  })
  .describe('A timed job: starts a flow on a schedule.');

export const jobDocument: DocumentKind<typeof schema, JobSpec> = {
  kistype: 'job',
  schema,
  idKeys: ['job_id'],
  toSpec(parsed, locate) {
    return defined({
      jobId: parsed.job_id,
      schedule: parsed.schedule,
      timezone: parsed.timezone,
      flowId: parsed.flow_id,
      enabled: parsed.status === 1,
      params: parsed.params ?? {},
      rows: parsed.rows,
      at: locate([]),
    });
  },
};
