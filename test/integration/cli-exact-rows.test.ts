import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'bin', 'kisflow.js');
const kisflowApi = pathToFileURL(join(repo, 'kisflow', 'index.ts')).href;

function kisflow(cwd: string, args: string[], input: Buffer) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

// `value` makes what the row asks for: a NaN or a BigInt, which JSON.stringify turned into null
// or an internal error with a stack trace.
const PROJECT = {
  'package.json': '{ "name": "exact-rows", "private": true, "type": "module" }\n',
  'flows/echo.yml':
    'kistype: func\nfid: echo\nfmode: Calculate\n---\nkistype: flow\nflow_id: echo\nflows: [{ fid: echo }]\n',
  'functions/echo.ts': `import { defineFunction } from '${kisflowApi}';
export default defineFunction((rows, ctx) => {
  for (const row of rows) {
    const value = row.make === 'nan' ? Number.NaN : row.make === 'bigint' ? 10n ** 20n : row.value;
    ctx.commit({ ...row, value });
  }
});
`,
};

describe('kisflow run never changes a row silently', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kisflow-exact-'));
    for (const [file, text] of Object.entries(PROJECT)) {
      await mkdir(join(dir, file, '..'), { recursive: true });
      await writeFile(join(dir, file), text);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects changed input lines with their line number and code, and changed output rows, and prints the rest', async () => {
    const input = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"id":1,"value":"kept"}\n{"id":2,"value":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n{"id":3,"value":1e999}\n{"id":4,"value":12345678901234567891}\n'),
      Buffer.from('{"id":5,"value":"\\ud800"}\n{"id":6,"make":"nan"}\n{"id":7,"make":"bigint"}\n'),
    ]);
    const r = await kisflow(dir, ['run', 'echo', '--fresh'], input);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"id":1,"value":"kept"}\n');
    const rejected = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('rejected '))
      .map((l) => JSON.parse(l.slice('rejected '.length)) as { code: string; reason: string; fid: string });
    expect(rejected.map((x) => [x.fid, x.code, x.reason.replace(/:.*/, '')])).toEqual([
      ['(input)', 'NOT_UTF8', '-'],
      ['(input)', 'NUMBER_OUT_OF_RANGE', '-'],
      ['(input)', 'INTEGER_NOT_EXACT', '-'],
      ['(input)', 'LONE_SURROGATE', '-'],
      // Caught where AWS would catch them: at the step that committed them (rows are checked as
      // they would travel between Lambda steps), not later at the output.
      ['echo', 'BAD_ROW', "Function 'echo' committed a row JSON cannot carry unchanged"],
      ['echo', 'BAD_ROW', "Function 'echo' committed a row JSON cannot carry unchanged"],
    ]);
    expect(rejected.slice(0, 4).map((x) => x.reason.match(/^-:(\d+):/)?.[1])).toEqual(['2', '3', '4', '5']);
    expect(r.stderr).toMatch(/echo: 7 rows in, 1 out, 6 rejected/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
