import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'kisflow.js');

async function kisflow(args: string[], options: { input?: string; cwd?: string } = {}) {
  const child = exec(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? root,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('kisflow run (subprocess) on the example flows', () => {
  let dir: string;
  let store: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kisflow-run-'));
    store = join(dir, 'store.json');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Flow 1 (V+S+C+E): verifies, saves, prices and publishes orders; rejects the one missing qty', async () => {
    const r = await kisflow([
      'run',
      'order_intake',
      '--input',
      'flows/samples/orders.jsonl',
      '--store',
      store,
      '--fresh',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.order_id, o.total, o.topic, o.currency])).toEqual([
      ['o-1001', 36, 'orders.priced', 'EUR'],
      ['o-1002', 30.6, 'orders.priced', 'EUR'],
      ['o-1003', 45, 'orders.priced', 'EUR'],
      ['o-1005', 10.8, 'orders.priced', 'EUR'],
    ]);
    const rejected = r.stderr.split('\n').filter((l) => l.startsWith('rejected '));
    expect(rejected).toHaveLength(1);
    const reject = JSON.parse(rejected[0]?.slice('rejected '.length) ?? '{}');
    expect(reject).toMatchObject({
      flowId: 'order_intake',
      step: 0,
      fid: 'verify_order',
      code: 'MISSING_FIELD',
    });
    expect(reject.reason).toContain('qty');
    expect(reject.row).toMatchObject({ order_id: 'o-1004' });
    expect(r.stderr).toMatch(/order_intake: 5 rows in, 4 out, 1 rejected/);
  });

  it('Flow 2 (V+L+S+C+E) merges with Flow 1 through the orders connector and keeps running totals', async () => {
    const r = await kisflow([
      'run',
      'payment_settlement',
      '--input',
      'flows/samples/payments.jsonl',
      '--store',
      store,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.payment_id, o.order_id, o.sku, o.status, o.user_paid_total])).toEqual([
      ['p-1', 'o-1001', 'kettle', 'settled', 36],
      ['p-2', 'o-1002', 'mug', 'settled', 30.6],
      ['p-3', 'o-1003', 'teapot', 'settled', 81],
      ['p-5', 'o-1005', 'tray', 'settled', 10.8],
    ]);
    expect(r.stderr).toMatch(/rejected .*"fid":"load_order".*no order o-9999/);
  });

  it('Flow 3 (V+L+C+E) carries all three: shipment + payment + order', async () => {
    const r = await kisflow([
      'run',
      'shipment_tracking',
      '--input',
      'flows/samples/shipments.jsonl',
      '--store',
      store,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.order_id, o.carrier, o.eta_days, o.payment_id, o.sku, o.topic])).toEqual([
      ['o-1001', 'dhl', 2, 'p-1', 'kettle', 'shipments.eta'],
      ['o-1003', 'ups', 3, 'p-3', 'teapot', 'shipments.eta'],
      ['o-1002', 'pigeon', 5, 'p-2', 'mug', 'shipments.eta'],
    ]);
    expect(r.stderr).toMatch(/rejected .*o-1004 has no settled payment/);
  });

  it('reads stdin and reports malformed lines as rejected rows, never dropping them', async () => {
    const input = '{"order_id":"x1","user_id":"u","sku":"s","price":1,"qty":2}\nnot json\n[1,2]\n';
    const r = await kisflow(['run', 'order_intake', '--store', store], { input });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stderr.match(/"code":"MALFORMED_ROW"/g)).toHaveLength(2);
    expect(r.stderr).toMatch(/3 rows in, 1 out, 2 rejected/);
  });

  it('an unknown flow is a clear error without a stack trace', async () => {
    const r = await kisflow([
      'run',
      'order_intakee',
      '--input',
      'flows/samples/orders.jsonl',
      '--store',
      store,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('order_intake');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('unreadable input, unwritable output and store are clear errors without a stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--input', dir], /cannot read input .*: EISDIR/],
      [['--input', join(dir, 'missing.jsonl')], /cannot read input .*: ENOENT/],
      [
        ['--input', 'flows/samples/orders.jsonl', '--output', join(dir, 'no', 'such', 'dir', 'out.jsonl')],
        /cannot write output .*: ENOENT/,
      ],
      [
        ['--input', 'flows/samples/orders.jsonl', '--store', join(store, 'under-a-file.json')],
        /local store .*ENOTDIR/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await kisflow(['run', 'order_intake', '--store', store, ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
    }
  });

  it('validate exits 0 on the examples; graph prints Mermaid with the connectors joining flows', async () => {
    const v = await kisflow(['validate']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/3 flows, 11 functions, 2 connectors, 1 job/);
    const g = await kisflow(['graph']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^flowchart LR/);
    expect(g.stdout).toContain('"orders (dynamodb)"');
    expect(g.stdout).toMatch(/-\. save \.->/);
    expect(g.stdout).toMatch(/-\. load \.->/);
  });

  it('validate reports located errors with exit code 1', async () => {
    const r = await kisflow(['validate', 'test/fixtures/seed']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\.ya?ml:\d+:\d+: .*测试PrintInput/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

/** A project in a temporary folder: one flow `f` of the given functions (source code by fid). */
async function projectWith(dir: string, functions: Record<string, string>, flowExtra = ''): Promise<string> {
  await mkdir(join(dir, 'flows'), { recursive: true });
  await mkdir(join(dir, 'functions'), { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  const api = JSON.stringify(join(root, 'kisflow', 'index.ts'));
  const docs = Object.keys(functions).map((fid) => `kistype: func\nfid: ${fid}\nfmode: Calculate\n`);
  docs.push(
    `kistype: flow\nflow_id: f\n${flowExtra}flows:\n${Object.keys(functions)
      .map((fid) => `  - fid: ${fid}\n`)
      .join('')}`,
  );
  await writeFile(join(dir, 'flows', 'f.yml'), docs.join('---\n'));
  for (const [fid, body] of Object.entries(functions)) {
    await writeFile(
      join(dir, 'functions', `${fid}.ts`),
      `import { defineFunction } from ${api};\nexport default defineFunction(${body});\n`,
    );
  }
  return dir;
}

describe('kisflow run never loses rows to a misbehaving function', () => {
  let base: string;
  let n = 0;
  const fresh = async () => join(base, `p${n++}`);
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'kisflow-run-faults-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });
  const run = (cwd: string, input: string, ...extra: string[]) =>
    kisflow(['run', 'f', '--fresh', '--store', join(cwd, 'store.json'), '--batch-rows', '2', ...extra], {
      input,
      cwd,
    });
  const ids = (n: number) => Array.from({ length: n }, (_, id) => JSON.stringify({ id })).join('\n');

  it('a function that never resolves: its batch is rejected with TIMEOUT, the other rows come out, the run ends', async () => {
    const cwd = await projectWith(
      await fresh(),
      {
        hang: `async (rows, ctx) => {
          if (rows.some((r) => r.id === 2)) await new Promise(() => {});
          if (rows.some((r) => r.id === 4)) { setInterval(() => {}, 1000); await new Promise(() => {}); }
          for (const r of rows) ctx.commit(r);
        }`,
      },
      'tuning:\n  timeout: 1\n',
    );
    const r = await run(cwd, ids(6));
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).map((o) => o.id)).toEqual([0, 1]);
    expect(r.stderr.match(/"code":"TIMEOUT"/g)).toHaveLength(4);
    expect(r.stderr).toMatch(/6 rows in, 2 out, 4 rejected, 0 dropped/);
  });

  it('--strict exits 1 when rows were dropped; the summary names the reason', async () => {
    const cwd = await projectWith(await fresh(), {
      half: '(rows, ctx) => { for (const r of rows) if (r.id % 2 === 0) ctx.commit(r); }',
    });
    const loose = await run(cwd, ids(4));
    expect(loose.code, loose.stderr).toBe(0);
    expect(loose.stderr).toMatch(/4 rows in, 2 out, 0 rejected, 2 dropped/);
    expect(loose.stderr).toMatch(/half +4 in, 2 out, 0 rejected, 2 dropped \(NOT_COMMITTED 2\)/);
    const strict = await run(cwd, ids(4), '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/--strict: 0 row\(s\) rejected, 2 dropped/);
  });

  it('values JSON cannot carry, and a 10,000-level nested row: per-row errors, no stack trace, the rest goes on', async () => {
    const cwd = await projectWith(await fresh(), {
      odd: `(rows, ctx) => {
        for (const r of rows) {
          if (r.id === 1) ctx.commit({ ...r, n: 10n });
          else if (r.id === 2) { const c = { ...r }; c.self = c; ctx.commit(c); }
          else if (r.id === 3) ctx.commit({ ...r, v: Number.NaN });
          else ctx.commit(r);
        }
      }`,
    });
    const deep = `{"id":9,"deep":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const r = await run(cwd, `${ids(5)}\n${deep}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(lines(r.stdout).map((o) => o.id)).toEqual([0, 4]);
    const rejected = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('rejected '))
      .map(
        (l) =>
          JSON.parse(l.slice('rejected '.length)) as {
            fid: string;
            code: string;
            reason: string;
            row: { id?: number };
          },
      );
    // As in AWS: the input row behind a bad commit is rejected at the step that committed it.
    expect(rejected.map((x) => [x.fid, x.code, x.row.id])).toEqual([
      ['odd', 'BAD_ROW', 1],
      ['odd', 'BAD_ROW', 2],
      ['odd', 'BAD_ROW', 3],
      ['odd', 'INVALID_ROW', undefined],
    ]);
    expect(rejected.map((x) => x.reason).join('\n')).toMatch(
      /BigInt[\s\S]*cycle[\s\S]*NaN[\s\S]*deeper than 32/,
    );
  });

  it('a ctx.commit after the handler returned is an error naming the function, and fails the run', async () => {
    const cwd = await projectWith(await fresh(), {
      sloppy:
        '(rows, ctx) => { rows.forEach(async (r) => { await new Promise((ok) => setTimeout(ok, 10)); ctx.commit(r); }); }',
    });
    const r = await run(cwd, ids(2));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Function 'sloppy' called ctx\.commit\(\) after its handler returned/);
    expect(r.stderr).toMatch(/2 rows in, 0 out, 0 rejected, 2 dropped/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a recursive YAML alias is a located error, not a stack trace', async () => {
    const cwd = await fresh();
    await mkdir(join(cwd, 'flows'), { recursive: true });
    await writeFile(
      join(cwd, 'flows', 'f.yml'),
      'kistype: func\nfid: a\nfmode: Calculate\noption:\n  default_params: &p\n    self: *p\n',
    );
    const r = await kisflow(['validate'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /flows\/f\.yml:6:11: YAML error: the alias \*p refers to a node that contains it/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
