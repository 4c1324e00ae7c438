import * as z from 'zod';
import { type DocumentKind, defined } from './document-kind.ts';
import { idField, paramsField, paramValue, statusField } from './fields.ts';
import type { JobSpec } from './model.ts';
import { SCHEDULE_FORMS, scheduleProblem, timezoneProblem } from './schedule.ts';

const retry = z
  .strictObject({
    times: z.int().min(1).max(100).describe('Fires after the failed one.'),
    interval: z.int().min(0).max(86_400).default(60).describe('Seconds before the first retry.'),
    backoff: z
      .number()
      .min(1)
      .max(10)
      .default(2)
      .describe('Each further retry waits this many times longer.'),
    max_interval: z.int().min(1).max(86_400).optional().describe('Longest wait between retries, in seconds.'),
  })
  .describe('Fire again after a failed run (trigger `retry`), with growing waits.');

const alerts = z
  .strictObject({
    on_failure: z.boolean().optional().describe('Alert on every failed or partial run.'),
    consecutive_failures: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Alert when this many runs in a row failed.'),
    success_ratio: z
      .strictObject({
        below: z.number().gt(0).max(1).describe('The ratio (0..1] under which to alert.'),
        runs: z.int().min(1).max(1000).default(20).describe('How many of the latest finished runs to count.'),
      })
      .optional()
      .describe('Alert when the share of succeeded runs falls under a threshold.'),
    on_timeout: z.boolean().optional().describe('Alert when a run times out.'),
  })
  .describe('When to alert (through SNS), each alert naming the run and a one-line reason.');

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
    misfire: z
      .enum(['skip', 'fire_once_now'])
      .optional()
      .describe(
        'A fire that was missed (dev stopped, Scheduler retries exhausted, job paused): `skip` it, or `fire_once_now` (one run, trigger `misfire`, however many were missed). Default `skip`.',
      ),
    overlap: z
      .enum(['serial', 'discard_later', 'cover_early'])
      .optional()
      .describe(
        'A fire while the previous run is still running, for the whole deployment: `serial` queues it until that run ends, `discard_later` skips it (recorded as a `skipped` run), `cover_early` cancels the running one and starts the new one. Default `serial`.',
      ),
    timeout: z
      .int()
      .min(1)
      .max(31 * 86_400)
      .optional()
      .describe(
        'Seconds a run may go without progress before it becomes `timed_out` (its remaining batches are dropped with a reason). Default: no timeout.',
      ),
    retry: retry.optional(),
    on_success: z
      .array(idField)
      .optional()
      .describe('Jobs started (trigger `child`) when a run of this job succeeds.'),
    on_failure: z
      .array(idField)
      .optional()
      .describe('Jobs started (trigger `child`) when a run of this job fails, ends partial or times out.'),
    shards: z
      .int()
      .min(1, { error: 'must be at least 1 (one tick batch per fire)' })
      .max(1000)
      .optional()
      .describe(
        'Sharding broadcast: each fire sends this many tick batches; each function sees `ctx.shard = { index, total }`, and the run completes when every shard has. Default 1.',
      ),
    scene: idField.optional().describe('Business group (scene) of the job, for listing and permissions.'),
    alerts: alerts.optional(),
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
      {
        kistype: 'job',
        job_id: 'HourlyBilling',
        schedule: 'rate(1 hour)',
        flow_id: 'Billing',
        scene: 'finance',
        overlap: 'discard_later',
        timeout: 1800,
        retry: { times: 3, interval: 60, backoff: 2 },
        shards: 4,
        on_failure: ['NightlyOrders'],
        alerts: { consecutive_failures: 3, success_ratio: { below: 0.9, runs: 20 } },
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
      misfire: parsed.misfire,
      overlap: parsed.overlap,
      timeoutSeconds: parsed.timeout,
      retry: parsed.retry
        ? defined({
            times: parsed.retry.times,
            intervalSeconds: parsed.retry.interval,
            backoff: parsed.retry.backoff,
            maxIntervalSeconds: parsed.retry.max_interval,
          })
        : undefined,
      onSuccess: parsed.on_success,
      onFailure: parsed.on_failure,
      shards: parsed.shards,
      scene: parsed.scene,
      alerts: parsed.alerts
        ? defined({
            onFailure: parsed.alerts.on_failure,
            consecutiveFailures: parsed.alerts.consecutive_failures,
            successRatio: parsed.alerts.success_ratio,
            onTimeout: parsed.alerts.on_timeout,
          })
        : undefined,
      at: locate([]),
    });
  },
};
