import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../../kisflow/cli/local-store.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the local store of kisflow run', () => {
  it('refuses with STORE_LOCKED, naming the holder, while another run holds it past the wait', async () => {
    const file = join(dir, 'held.json');
    const first = await openLocalStore(file);
    const messages: string[] = [];
    await expect(
      openLocalStore(file, { waitMs: 200, onWait: (m) => messages.push(m) }),
    ).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringMatching(`in use by another kisflow run \\(pid ${process.pid}\\)`),
    });
    expect(messages).toHaveLength(1);
    await first.release();
    const second = await openLocalStore(file, { waitMs: 200 });
    await second.release();
  });

  it('takes over the lock of a run that died', async () => {
    const file = join(dir, 'stale.json');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(`${file}.lock`, String(dead));
    const store = await openLocalStore(file, { waitMs: 200 });
    expect(await readFile(`${file}.lock`, 'utf8')).toBe(String(process.pid));
    await store.release();
  });

  it('saves by replacing the file whole; what was saved is read back by the next run', async () => {
    const file = join(dir, 'kept.json');
    const a = await openLocalStore(file);
    await a.connectors.put('orders', [{ key: 'o-1', sort: '0', row: { order_id: 'o-1' } }]);
    await a.save();
    await a.release();
    const b = await openLocalStore(file);
    expect(await b.connectors.get('orders', ['o-1'])).toEqual(new Map([['o-1', [{ order_id: 'o-1' }]]]));
    await b.release();
    const fresh = await openLocalStore(file, { fresh: true });
    expect((await fresh.connectors.get('orders', ['o-1'])).get('o-1') ?? []).toEqual([]);
    await fresh.release();
  });
});
