/** `kisflow run` accounts its run as `kisflow dev` and Lambda do, and says how it ended. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const bin = join(root, 'bin', 'kisflow.js');

describe('kisflow run with its run ledger', () => {
  it('a run with one rejected row ends partial, and the status line names its run id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kisflow-run-ledger-'));
    try {
      const args = ['run', 'order_intake', '--input', 'flows/samples/orders.jsonl'];
      const { stderr } = await exec(
        process.execPath,
        [bin, ...args, '--store', join(dir, 's.json'), '--fresh'],
        {
          cwd: root,
        },
      );
      expect(stderr).toMatch(/^ {2}run manual-[0-9a-f-]{36}: partial$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
