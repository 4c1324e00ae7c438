import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { devOutput, followRunLog, RunLogFile, readRunLog } from '../../../kisflow/local/run-log.ts';

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'kisflow-run-log-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});
const line = (runId: string, message: string, level = 'INFO') => JSON.stringify({ level, message, runId });

describe('the dev run log', () => {
  it('returns one run’s lines in order, not those of a run whose id contains it', () => {
    const dir = tmp();
    const file = new RunLogFile(dir);
    file.append(line('r1', 'a'));
    file.append(line('r10', 'other'));
    file.append('{"level":"INFO","message":"cut');
    file.append(line('r1', 'b'));
    file.close();
    expect(readRunLog(dir, 'r1').map((l) => l.message)).toEqual(['a', 'b']);
  });

  it('is bounded: rotated past its size, the oldest file dropped, reads across the kept ones', () => {
    const dir = tmp();
    const file = new RunLogFile(dir, { maxBytes: 200, keep: 2 });
    for (let i = 0; i < 20; i++) {
      file.append(line('r', `m${i}`));
      file.flush();
    }
    file.close();
    expect(readdirSync(dir).sort()).toEqual(['steps.1.jsonl', 'steps.2.jsonl', 'steps.jsonl']);
    const kept = readRunLog(dir, 'r').map((l) => Number(String(l.message).slice(1)));
    expect(kept.at(-1)).toBe(19);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    expect(kept.length).toBeLessThan(20);
  });

  it('follows: lines appended later arrive, until aborted', async () => {
    const dir = tmp();
    const file = new RunLogFile(dir);
    file.append(line('r', 'before'));
    file.flush();
    const seen: unknown[] = [];
    const stop = new AbortController();
    const following = followRunLog(dir, 'r', (l) => seen.push(l.message), stop.signal);
    file.append(line('x', 'not mine'));
    file.append(line('r', 'after'));
    file.flush();
    await vi.waitFor(() => expect(seen).toEqual(['before', 'after']), { timeout: 3000 });
    stop.abort();
    await following;
  });

  it('keeps every Powertools line and shows the terminal only those at its level', () => {
    const dir = tmp();
    const file = new RunLogFile(dir);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const output = devOutput(file, 'WARN');
    output(line('r', 'info'), 'stdout');
    output(line('r', 'warn', 'WARN'), 'stderr');
    output('plain console.log', 'stdout');
    file.close();
    expect(readRunLog(dir, 'r').map((l) => l.message)).toEqual(['info', 'warn']);
    expect(out.mock.calls.map((c) => c[0])).toEqual(['plain console.log\n']);
    expect(err.mock.calls.map((c) => c[0])).toEqual([`${line('r', 'warn', 'WARN')}\n`]);
  });
});
