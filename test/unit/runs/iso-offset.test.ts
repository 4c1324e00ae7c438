import { describe, expect, it } from 'vitest';
import { isoWithOffset } from '../../../kisflow/cli/commands/jobs.ts';

describe('isoWithOffset', () => {
  const at = new Date(Date.UTC(2026, 11, 1, 18, 0, 0));
  it('gives the wall-clock time in the zone with its UTC offset', () => {
    expect(isoWithOffset(at, 'Asia/Shanghai')).toBe('2026-12-02T02:00:00+08:00');
    expect(isoWithOffset(at, 'UTC')).toBe('2026-12-01T18:00:00+00:00');
    expect(isoWithOffset(at, 'America/New_York')).toBe('2026-12-01T13:00:00-05:00');
    expect(isoWithOffset(at, 'Asia/Kolkata')).toBe('2026-12-01T23:30:00+05:30');
  });
  it('follows daylight saving time', () => {
    expect(isoWithOffset(new Date(Date.UTC(2026, 6, 1, 12)), 'Europe/Paris')).toBe(
      '2026-07-01T14:00:00+02:00',
    );
    expect(isoWithOffset(new Date(Date.UTC(2026, 0, 1, 12)), 'Europe/Paris')).toBe(
      '2026-01-01T13:00:00+01:00',
    );
  });
});
