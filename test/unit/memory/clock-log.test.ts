import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, systemClock } from '../../../kisflow/memory/clock.ts';
import { consoleLog, createConsoleLog, silentLog } from '../../../kisflow/memory/log.ts';

describe('clocks', () => {
  it('ManualClock moves only when told; sleep moves it', async () => {
    const clock = new ManualClock(100);
    expect(clock.now()).toBe(100);
    clock.advance(50);
    expect(clock.now()).toBe(150);
    await clock.sleep(25);
    expect(clock.now()).toBe(175);
    clock.set(0);
    expect(clock.now()).toBe(0);
  });

  it('systemClock follows real time', async () => {
    const before = Date.now();
    await systemClock.sleep(5);
    expect(systemClock.now()).toBeGreaterThanOrEqual(before + 4);
  });
});

describe('logs', () => {
  afterEach(() => vi.restoreAllMocks());

  it('consoleLog writes info and above to stderr with its data', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    consoleLog.debug('hidden');
    consoleLog.info('hello', { flow: 'f' });
    consoleLog.error('bad');
    expect(spy.mock.calls).toEqual([['INFO  hello {"flow":"f"}'], ['ERROR bad']]);
  });

  it('createConsoleLog filters by level; silentLog prints nothing', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    createConsoleLog('warn').info('no');
    createConsoleLog('debug').debug('yes');
    silentLog.error('never');
    expect(spy.mock.calls).toEqual([['DEBUG yes']]);
  });
});
