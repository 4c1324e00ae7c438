import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Row } from '../../../kisflow/ports.ts';
import { Sink, sendRows, waitFor } from '../runtime/harness.ts';
import { DevProcess, makeProject } from './dev-process.ts';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const tagging = (field: string, sleep = '') => `import { defineFunction } from 'kisflow';
export default defineFunction(async (rows, ctx) => {
  ${sleep}
  for (const row of rows) ctx.commit({ ...row, ${field}: true });
});
`;

const FLOW = (steps: readonly string[]) => `kistype: func
fid: a
fmode: Calculate
---
kistype: func
fid: x
fmode: Calculate
---
kistype: func
fid: b
fmode: Calculate
---
kistype: flow
flow_id: moves
status: 1
flows:
${steps.map((s) => `  - fid: ${s}`).join('\n')}
tuning: { batch_size: 5, max_message_bytes: 4096, timeout: 5 }
`;

async function startDev(root: string) {
  const dev = new DevProcess(root);
  cleanups.push(() => dev.close());
  const { clients, resources } = await dev.ready(root);
  const sink = new Sink(clients.sqs, resources, ['moves']);
  cleanups.push(() => sink.stop());
  return { dev, clients, resources, sink };
}

const rowsOf = (tag: string, n: number): Row[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${tag}-${String(i).padStart(3, '0')}` }));

// Issue 7, "a flow changed while messages are in flight": messages wait in step b's queue, the
// flow gets a new step x inserted before b, and kisflow dev restarts. A waiting message says "step
// 1" (b's index then, x's now) and "step b": it must reach b, not x, nor be lost.
describe('kisflow dev restarted with a step inserted while messages wait', () => {
  it('delivers every waiting message to the step it was meant for (by step key); no row lost', async () => {
    const project = makeProject({
      'flows/moves.yml': FLOW(['a', 'b']),
      'functions/a.ts': tagging('via_a'),
      'functions/x.ts': tagging('via_x'),
      // b is slow, so its queue holds a backlog when dev stops.
      'functions/b.ts': tagging('via_b', 'await new Promise((resolve) => setTimeout(resolve, 1500));'),
    });
    cleanups.push(() => project.remove());
    const out = new Map<string, Row>();
    const dead: { code: string; ids: string[] }[] = [];
    const collect = (sink: Sink) => {
      for (const m of sink.outputs) for (const r of m.rows) out.set(String(r.id), r);
      dead.splice(
        0,
        dead.length,
        ...sink.deadLetters.map((d) => ({ code: d.code, ids: d.rows.map((r) => String(r.row.id)) })),
      );
    };

    const first = await startDev(project.root);
    const before = rowsOf('before', 200);
    // One message per 5 rows: many messages at every step.
    for (let i = 0; i < before.length; i += 5) {
      await sendRows(first.clients.sqs, first.resources, 'moves', `before-${i}`, before.slice(i, i + 5));
    }
    await waitFor(
      'some rows out, with a backlog at b',
      () => {
        collect(first.sink);
        return out.size >= 5;
      },
      60_000,
    );
    const stopped = await first.dev.kill('SIGINT');
    await first.sink.stop();
    collect(first.sink);
    expect(stopped.code).toBe(0);
    // Messages were waiting for b (step 1 then) when dev stopped.
    expect(first.dev.stderr).toMatch(/^ {2}moves step 1 \(b\) input: \d+ messages? waiting/m);
    const outAtStop = new Set(out.keys());
    expect(outAtStop.size).toBeLessThan(before.length);

    // The redeploy: x is inserted before b, so b is now step 2 and step 1 is x.
    const yml = join(project.root, 'flows', 'moves.yml');
    writeFileSync(yml, readFileSync(yml, 'utf8').replace('  - fid: b\n', '  - fid: x\n  - fid: b\n'));

    const second = await startDev(project.root);
    const firstDead = dead.length;
    const after = rowsOf('after', 20);
    await sendRows(second.clients.sqs, second.resources, 'moves', 'after', after);
    await waitFor(
      `every row out or dead-lettered (${out.size} out)`,
      () => {
        collect(second.sink);
        const accounted = new Set([...out.keys(), ...dead.flatMap((d) => d.ids)]);
        return [...before, ...after].every((r) => accounted.has(String(r.id)));
      },
      90_000,
    );
    await second.sink.stop();
    expect((await second.dev.kill('SIGINT')).code).toBe(0);

    // Nothing was dead-lettered and nothing lost: every row reached the output exactly as routed.
    expect(firstDead).toBe(0);
    expect(dead).toEqual([]);
    expect(out.size).toBe(before.length + after.length);
    for (const r of out.values()) expect(r, String(r.id)).toMatchObject({ via_a: true, via_b: true });
    const early = before.filter((r) => !outAtStop.has(String(r.id))).map((r) => out.get(String(r.id)));
    // Rows that were past a (waiting for b) reached b without x; rows still before a went a, x, b.
    expect(early.some((r) => r?.via_x === undefined)).toBe(true);
    for (const r of after)
      expect(out.get(String(r.id))).toMatchObject({ via_a: true, via_x: true, via_b: true });
    for (const id of outAtStop) expect(out.get(id)?.via_x).toBeUndefined();
  }, 240_000);
});
