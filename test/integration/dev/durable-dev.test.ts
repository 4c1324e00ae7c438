import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Row } from '../../../kisflow/ports.ts';
import { Sink, sendRows, waitFor } from '../runtime/harness.ts';
import { DevProcess, makeProject } from './dev-process.ts';
import { STREAM_PROJECT, streamRows } from './stream-project.ts';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Rows seen at the output or in a DLQ, by id, over every sink (one per dev process). */
class Accounting {
  readonly out = new Map<string, Row>();
  readonly dead = new Map<string, { code?: string }>();
  readonly sinks: Sink[] = [];

  watch(sink: Sink): void {
    this.sinks.push(sink);
  }

  update(tag: string): void {
    for (const sink of this.sinks) {
      for (const r of sink.outputRows('stream', tag)) this.out.set(String(r.tx_id), r);
      for (const d of sink.deadRows('stream', tag))
        this.dead.set(String(d.row.tx_id), { ...(d.code ? { code: d.code } : {}) });
    }
  }

  get accounted(): number {
    return new Set([...this.out.keys(), ...this.dead.keys()]).size;
  }
}

async function startDev(root: string, args: string[] = []) {
  const dev = new DevProcess(root, args);
  cleanups.push(() => dev.close());
  const { clients, resources } = await dev.ready(root);
  const sink = new Sink(clients.sqs, resources, ['stream']);
  cleanups.push(() => sink.stop());
  return { dev, clients, resources, sink };
}

async function streamThenStop(signal: 'SIGKILL' | 'SIGINT', tag: string) {
  const project = makeProject(STREAM_PROJECT);
  cleanups.push(() => project.remove());
  const rows = streamRows(tag);
  const seen = new Accounting();

  const first = await startDev(project.root);
  seen.watch(first.sink);
  // 20 sends of 100 rows: many messages at every step, as a stream would be.
  for (let i = 0; i < rows.length; i += 100) {
    await sendRows(first.clients.sqs, first.resources, 'stream', `${tag}-${i}`, rows.slice(i, i + 100));
  }
  await waitFor(
    'some rows out',
    () => {
      seen.update(tag);
      return seen.out.size >= 100;
    },
    60_000,
  );
  const stopped = await first.dev.kill(signal);
  await first.sink.stop();
  seen.update(tag);
  const atStop = seen.accounted;
  expect(atStop).toBeLessThan(rows.length);

  const second = await startDev(project.root);
  seen.watch(second.sink);
  await waitFor(
    `every row out or dead-lettered (${seen.accounted} of ${rows.length})`,
    () => {
      seen.update(tag);
      return seen.accounted >= rows.length;
    },
    90_000,
  );
  // Every id is accounted for exactly once: at the output, or dead-lettered with its reason.
  expect(seen.accounted).toBe(rows.length);
  expect([...seen.out.keys()].filter((id) => seen.dead.has(id))).toEqual([]);
  expect(seen.dead.size).toBe(20);
  expect(new Set([...seen.dead.values()].map((d) => d.code))).toEqual(new Set(['MISSING_FIELD']));
  expect(seen.out.size).toBe(1980);
  expect([...seen.out.values()].every((r) => r.passed === true)).toBe(true);

  await second.sink.stop();
  const end = await second.dev.kill('SIGINT');
  expect(end.code).toBe(0);
  return { first: first.dev, stopped, atStop, project };
}

describe('kisflow dev keeps its queues through a crash or a stop', () => {
  it('SIGKILL mid-stream, then a restart: every row is out or dead-lettered, none twice', async () => {
    const { stopped, project } = await streamThenStop('SIGKILL', 'kill');
    expect(stopped.signal).toBe('SIGKILL');
    // The state lives in the project's folder.
    expect(existsSync(join(project.root, '.kisflow', 'dev', 'sqs.jsonl'))).toBe(true);
    expect(existsSync(join(project.root, '.kisflow', 'dev', 'dynamodb'))).toBe(true);
  }, 240_000);

  it('Ctrl-C mid-stream says what is still queued, per queue; a restart carries on with it', async () => {
    const { first, stopped } = await streamThenStop('SIGINT', 'int');
    expect(stopped.code).toBe(0);
    expect(first.stderr).toMatch(
      /still queued \(kept in .*\.kisflow[/\\]dev; the next kisflow dev here carries on with them\):/,
    );
    expect(first.stderr).toMatch(/^ {2}stream step \d \(\w+\) input: \d+ messages? waiting/m);
    expect(first.stderr).not.toMatch(/\n\s+at /);
  }, 240_000);

  it('a second kisflow dev in the same folder is refused; a lock left by a killed one is taken over', async () => {
    const project = makeProject(STREAM_PROJECT);
    cleanups.push(() => project.remove());
    const first = await startDev(project.root);
    const lock = join(project.root, '.kisflow', 'dev.lock');
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(first.dev.child.pid));

    const second = new DevProcess(project.root);
    cleanups.push(() => second.close());
    const refused = await second.exited;
    expect(refused.code).toBe(1);
    expect(second.stderr).toContain(
      `kisflow dev is already running in ${project.root} (pid ${first.dev.child.pid})`,
    );
    expect(second.stderr).not.toMatch(/\n\s+at /);

    await first.sink.stop();
    await first.dev.kill('SIGKILL');
    // The killed process left its lock behind: the next start takes it over.
    expect(existsSync(lock)).toBe(true);
    const third = await startDev(project.root);
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(third.dev.child.pid));
    await third.sink.stop();
    expect((await third.dev.kill('SIGINT')).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  }, 120_000);
});
