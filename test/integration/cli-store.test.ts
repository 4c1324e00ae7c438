import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'bin', 'kisflow.js');
const kisflowApi = pathToFileURL(join(repo, 'kisflow', 'index.ts')).href;

function kisflow(cwd: string, args: string[], input: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

const jsonl = (ids: string[]) => ids.map((id) => JSON.stringify({ id })).join('\n');

// A project whose flow saves every row, then waits long enough that two runs started together
// both hold the store at once: the old CLI read it in each and the later write erased the other's
// saves. `break_store` makes the store's temp file a folder, so the write fails after the run.
const PROJECT = {
  'package.json': '{ "name": "store-race", "private": true, "type": "module" }\n',
  'flows/items.yml': `
kistype: conn
cid: items
key: [id]
save: [save_item]
flow: [slow_save, broken_save]
---
kistype: func
fid: save_item
fmode: Save
option: { cid: items }
---
kistype: func
fid: wait_a_bit
fmode: Calculate
---
kistype: func
fid: break_store
fmode: Calculate
---
kistype: flow
flow_id: slow_save
flows: [{ fid: save_item }, { fid: wait_a_bit }]
---
kistype: flow
flow_id: broken_save
flows: [{ fid: save_item }, { fid: break_store }]
`,
  'functions/save_item.ts': `import { defineFunction } from '${kisflowApi}';
export default defineFunction((rows, ctx) => { for (const row of rows) ctx.commit(row); });
`,
  'functions/wait_a_bit.ts': `import { defineFunction } from '${kisflowApi}';
export default defineFunction(async (rows, ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const row of rows) ctx.commit(row);
});
`,
  'functions/break_store.ts': `import { mkdirSync } from 'node:fs';
import { defineFunction } from '${kisflowApi}';
export default defineFunction((rows, ctx) => {
  mkdirSync(\`.kisflow/store.json.\${process.pid}.tmp\`, { recursive: true });
  for (const row of rows) ctx.commit(row);
});
`,
};

describe('kisflow run: the local store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kisflow-store-'));
    for (const [file, text] of Object.entries(PROJECT)) {
      await mkdir(join(dir, file, '..'), { recursive: true });
      await writeFile(join(dir, file), text);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('two runs at once on the same store lose no saves: the second waits for the first', async () => {
    const a = ['a1', 'a2', 'a3'];
    const b = ['b1', 'b2'];
    const [ra, rb] = await Promise.all([
      kisflow(dir, ['run', 'slow_save'], jsonl(a)),
      kisflow(dir, ['run', 'slow_save'], jsonl(b)),
    ]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const saved = JSON.parse(await readFile(join(dir, '.kisflow', 'store.json'), 'utf8')) as {
      connectors: { connectors: { items: { row: { id: string } }[] } };
    };
    expect(saved.connectors.connectors.items.map((i) => i.row.id).sort()).toEqual([...a, ...b].sort());
    expect(`${ra.stderr}${rb.stderr}`).toMatch(
      /waiting for the local store .*store\.json, in use by another kisflow run/,
    );
  }, 60_000);

  it('a store that cannot be written fails the run before any output is reported', async () => {
    const before = await readFile(join(dir, '.kisflow', 'store.json'), 'utf8');
    const r = await kisflow(dir, ['run', 'broken_save'], jsonl(['c1']));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cannot write the local store \.kisflow\/store\.json: EISDIR/);
    expect(r.stderr).not.toMatch(/rows in|\n\s+at /);
    // The old store is still whole, and the lock is given back.
    expect(await readFile(join(dir, '.kisflow', 'store.json'), 'utf8')).toBe(before);
    await expect(readFile(join(dir, '.kisflow', 'store.json.lock'))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
