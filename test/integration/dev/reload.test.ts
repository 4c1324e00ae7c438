import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../../kisflow/aws/clients.ts';
import { Sink, sendRows, waitFor } from '../runtime/harness.ts';
import { DevProcess, kisflow, makeProject } from './dev-process.ts';

const YAML = (params: string) => `kistype: func
fid: fixme
fmode: Calculate
option: { retry_times: 0${params} }
---
kistype: flow
flow_id: fixme
status: 1
flows:
  - fid: fixme
`;
const BROKEN = `import { defineFunction } from 'kisflow';
export default defineFunction((rows) => {
  for (const row of rows) throw new Error(\`cannot price \${row.tx_id}\`);
});
`;
const FIXED = `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ ...row, priced: ctx.params.mark });
});
`;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const depth = async (clients: AwsClients, url: string) => {
  const out = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
};

describe('kisflow dev reloads a changed function or YAML file', () => {
  it('a fix to the function and its YAML is loaded without a restart, and redrive then repairs the dead letters kept across a restart', async () => {
    const project = makeProject({ 'flows/fixme.yml': YAML(''), 'functions/fixme.ts': BROKEN });
    cleanups.push(() => project.remove());

    const first = new DevProcess(project.root);
    cleanups.push(() => first.close());
    const a = await first.ready(project.root);
    const rows = Array.from({ length: 30 }, (_, i) => ({ tx_id: `fix-${i}` }));
    await sendRows(a.clients.sqs, a.resources, 'fixme', 'fix', rows);
    const dlq = a.resources.flows.fixme?.stepDeadLetterQueues[0] as string;
    let dead = 0;
    for (let i = 0; i < 200 && dead === 0; i++) {
      dead = await depth(a.clients, dlq);
      if (dead === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(dead).toBeGreaterThan(0);
    // Stopped and started again: the dead letters are still there.
    expect((await first.kill('SIGINT')).code).toBe(0);
    expect(first.stderr).toMatch(/fixme step 0 \(fixme\) dlq: \d+ messages? waiting/);

    const second = new DevProcess(project.root);
    cleanups.push(() => second.close());
    const b = await second.ready(project.root);
    const dlqAgain = b.resources.flows.fixme?.stepDeadLetterQueues[0] as string;
    expect(await depth(b.clients, dlqAgain)).toBe(dead);

    project.write('functions/fixme.ts', FIXED);
    project.write('flows/fixme.yml', YAML(', default_params: { mark: v2 }'));
    await waitFor(
      `the reload (stderr: ${second.stderr})`,
      () => /kisflow dev: reloaded/.test(second.stderr),
      30_000,
    );
    // Both files may have been seen apart: let any second reload finish too.
    await waitFor(
      'every reload done',
      () =>
        (second.stderr.match(/reloading/g) ?? []).length === (second.stderr.match(/reloaded/g) ?? []).length,
      30_000,
    );
    expect(second.stderr).toMatch(/functions[/\\]fixme\.ts changed|flows[/\\]fixme\.yml changed/);

    const redriven = await kisflow(project.root, ['redrive', 'fixme']);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toContain(`fixme: ${dead} dead letter(s) redriven`);
    const sink = new Sink(b.clients.sqs, b.resources, ['fixme']);
    cleanups.push(() => sink.stop());
    await waitFor(
      'the repaired rows out',
      () => new Set(sink.outputRows('fixme', 'fix-').map((r) => r.tx_id)).size === 30,
      30_000,
    );
    expect(sink.outputRows('fixme', 'fix-').every((r) => r.priced === 'v2')).toBe(true);
    expect(sink.deadRows('fixme', 'fix-')).toEqual([]);
    await sink.stop();
    expect((await second.kill('SIGINT')).code).toBe(0);
  }, 180_000);

  it('a change that does not load is reported and the running version keeps serving', async () => {
    const project = makeProject({
      'flows/fixme.yml': YAML(', default_params: { mark: v1 }'),
      'functions/fixme.ts': FIXED,
    });
    cleanups.push(() => project.remove());
    const dev = new DevProcess(project.root);
    cleanups.push(() => dev.close());
    const { clients, resources } = await dev.ready(project.root);
    project.write('functions/fixme.ts', 'export default 42;\n');
    await waitFor(
      `the failed reload (stderr: ${dev.stderr})`,
      () => /reload failed/.test(dev.stderr),
      30_000,
    );
    expect(dev.stderr).toMatch(/reload failed, the previous version keeps running: \S+/);
    expect(dev.stderr).not.toMatch(/\n\s+at /);
    const sink = new Sink(clients.sqs, resources, ['fixme']);
    cleanups.push(() => sink.stop());
    await sendRows(clients.sqs, resources, 'fixme', 'keep', [{ tx_id: 'fix-keep' }]);
    await waitFor('the row out', () => sink.outputRows('fixme', 'fix-').length === 1, 30_000);
    expect(sink.outputRows('fixme', 'fix-')[0]?.priced).toBe('v1');
    await sink.stop();
    expect((await dev.kill('SIGINT')).code).toBe(0);
  }, 120_000);
});
