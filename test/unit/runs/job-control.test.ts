import { beforeEach, describe, expect, it } from 'vitest';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import type { Alert } from '../../../kisflow/runs/alerts.ts';
import { END_LEASE_MS, JobControl } from '../../../kisflow/runs/job-control.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import type { ControlMessage } from '../../../kisflow/wire/control-message.ts';
import { decodeControl, fireMessage } from '../../../kisflow/wire/control-message.ts';

const job = (jobId: string, over: Partial<JobSpec> = {}): JobSpec => ({
  jobId,
  schedule: 'rate(1 hour)',
  timezone: 'UTC',
  flowId: 'F',
  enabled: true,
  params: {},
  ...over,
});

const T0 = Date.UTC(2026, 11, 1, 8);
let now: number;
let ledger: MemoryRunLedger;
let ticks: { flowId: string; batch: StepBatch }[];
let control: { message: ControlMessage; delaySeconds: number }[];
let alerts: Alert[];

function jobControl(...jobs: JobSpec[]): JobControl {
  const project = { jobs: new Map(jobs.map((j) => [j.jobId, j])) } as unknown as ProjectConfig;
  return new JobControl({
    project,
    ledger,
    now: () => now,
    sendTicks: async (flowId, batches) => {
      for (const batch of batches) ticks.push({ flowId, batch });
    },
    sendControl: async (message, delaySeconds) => {
      control.push({ message, delaySeconds });
    },
    publish: async (alert) => {
      alerts.push(alert);
    },
  });
}

beforeEach(() => {
  now = T0;
  ledger = new MemoryRunLedger({ now: () => now });
  ticks = [];
  control = [];
  alerts = [];
});

const at = (hour: number) => new Date(T0 + hour * 3_600_000).toISOString().replace('.000', '');

describe('job control', () => {
  it('a fire starts a run with one tick per shard into the flow, and a redelivered fire sends them again only while nothing was counted', async () => {
    const jc = jobControl(job('J', { shards: 3 }));
    const result = await jc.handle(fireMessage('J', at(0)));
    expect(result).toMatchObject({ kind: 'fired', outcome: 'started' });
    expect(ticks.map((t) => [t.flowId, t.batch.meta.shard])).toEqual([
      ['F', { index: 0, total: 3 }],
      ['F', { index: 1, total: 3 }],
      ['F', { index: 2, total: 3 }],
    ]);
    const first = ticks.map((t) => t.batch.batchId);
    // The first handling may have died before its sends: the same batches again.
    await jc.handle(fireMessage('J', at(0)));
    expect(ticks.slice(3).map((t) => t.batch.batchId)).toEqual(first);
    const runId = (result as { runId: string }).runId;
    await ledger.complete({ runId, batchId: first[0] as string, step: 0, children: 1 });
    await jc.handle(fireMessage('J', at(0)));
    expect(ticks).toHaveLength(6);
  });

  it('an unknown job is a permanent error; a message that is no control message is refused with a code', async () => {
    await expect(jobControl().handle(fireMessage('Nope', at(0)))).rejects.toMatchObject({
      code: 'UNKNOWN_JOB',
      retryable: false,
    });
    expect(() => decodeControl('{"v":1,"kind":"launch"}')).toThrow(
      expect.objectContaining({ code: 'INVALID_CONTROL_MESSAGE' }),
    );
  });

  it('a failed run plans its retry as a delayed message; a retry due later than SQS can delay goes back in hops', async () => {
    const j = job('J', { retry: { times: 2, intervalSeconds: 3600, backoff: 1 } });
    const jc = jobControl(j);
    const fired = (await jc.handle(fireMessage('J', at(0)))) as { runId: string };
    await ledger.complete({ runId: fired.runId, batchId: fired.runId, step: 0, outcome: 'dead_lettered' });
    await jc.handle({ v: 1, kind: 'run-ended', run: fired.runId });
    expect(control).toEqual([
      {
        message: expect.objectContaining({
          kind: 'retry',
          run: `${fired.runId}~retry1`,
          parent: fired.runId,
        }),
        delaySeconds: 900,
      },
    ]);
    const retry = control[0]?.message as ControlMessage;
    now += 900_000;
    expect(await jc.handle(retry)).toEqual({ kind: 'delayed', dueInMs: 2_700_000 });
    expect(control[1]).toEqual({ message: retry, delaySeconds: 900 });
    now = T0 + 3_600_000;
    expect(await jc.handle(retry)).toMatchObject({ kind: 'fired', outcome: 'started' });
    expect(await ledger.get(`${fired.runId}~retry1`)).toMatchObject({
      trigger: 'retry',
      parentRunId: fired.runId,
    });
  });

  it("a run's end is handled once: a second message finds it handled, one that finds it held is retried", async () => {
    const jc = jobControl(job('J', { onSuccess: ['Child'], alerts: { onFailure: true } }), job('Child'));
    const fired = (await jc.handle(fireMessage('J', at(0)))) as { runId: string };
    await ledger.complete({ runId: fired.runId, batchId: fired.runId, step: 0 });
    const claim = await ledger.claimEnd(fired.runId, END_LEASE_MS);
    expect(claim.kind).toBe('claimed');
    await expect(jc.handle({ v: 1, kind: 'run-ended', run: fired.runId })).rejects.toMatchObject({
      code: 'RUN_END_HELD',
      retryable: true,
    });
    now += END_LEASE_MS + 1;
    expect(await jc.handle({ v: 1, kind: 'run-ended', run: fired.runId })).toEqual({
      kind: 'ended',
      runId: fired.runId,
      started: [`${fired.runId}>Child`],
      alerts: 0,
    });
    expect(await jc.handle({ v: 1, kind: 'run-ended', run: fired.runId })).toEqual({
      kind: 'end_skipped',
      runId: fired.runId,
      why: 'handled',
    });
    expect(ticks.filter((t) => t.batch.runId === `${fired.runId}>Child`)).toHaveLength(1);
  });

  it('the sweep repairs ends nobody announced (a CLI cancel, a crash before the send), once', async () => {
    const jc = jobControl(job('J', { alerts: { onFailure: true }, timeoutSeconds: 10 }));
    const a = (await jc.handle(fireMessage('J', at(0)))) as { runId: string };
    await ledger.cancel(a.runId, 'by hand');
    const b = (await jc.handle(fireMessage('J', at(1)))) as { runId: string };
    now += 11_000;
    const swept = await jc.sweep();
    expect(swept).toEqual({ kind: 'swept', timedOut: [b.runId], repaired: [a.runId, b.runId] });
    expect(alerts).toEqual([expect.objectContaining({ runId: b.runId, rule: 'on_failure' })]);
    expect(await jc.sweep()).toEqual({ kind: 'swept', timedOut: [], repaired: [] });
  });
});
