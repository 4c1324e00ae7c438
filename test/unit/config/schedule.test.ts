import { describe, expect, it } from 'vitest';
import { scheduleProblem, timezoneProblem } from '../../../kisflow/config/schedule.ts';

describe('scheduleProblem', () => {
  it.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(2 hours)',
    'rate(1 day)',
    'cron(0 8 * * ? *)',
    'cron(0/15 * ? * MON-FRI *)',
    'cron(0 10 ? * 6L 2026)',
    'cron(15 10 L * ? *)',
    'cron(0 9 15W JAN,JUL ? 2026-2030)',
    'cron(0 12 ? * 2#1 *)',
    'at(2026-12-01T08:00:00)',
  ])('accepts %s', (expression) => {
    expect(scheduleProblem(expression)).toBeUndefined();
  });

  it.each([
    ['every 5 minutes', /^not a schedule: expected rate/],
    ['rate(0 minutes)', /positive number/],
    ['rate(5 weeks)', /^not a schedule/],
    ['rate(5  minutes)', /^not a schedule/],
    ['cron(0 8 * * *)', /needs 6 fields .* got 5/],
    ['cron(0 8 * * MON *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 8 ? * ? *)', /exactly one of day-of-month and day-of-week/],
    ['cron(60 8 * * ? *)', /cron minutes "60": 60 is outside 0-59/],
    ['cron(0 24 * * ? *)', /cron hours "24": 24 is outside 0-23/],
    ['cron(0 8 * FOO ? *)', /cron month "FOO": "FOO" is not a number in 1-12 or JAN-DEC/],
    ['cron(0 8 ? * 2#6 *)', /"#6" must be #1 to #5/],
    ['cron(0 8 * * ? 1969)', /1969 is outside 1970-2199/],
    ['cron(0 ? * * ? *)', /"\?" is only allowed in day-of-month and day-of-week/],
    ['at(2026-02-30T08:00:00)', /not a real date/],
    ['at(2026-12-01 08:00:00)', /^not a schedule/],
  ])('rejects %s', (expression, problem) => {
    expect(scheduleProblem(expression)).toMatch(problem);
  });
});

describe('timezoneProblem', () => {
  it('accepts IANA names', () => {
    for (const zone of [
      'UTC',
      'Europe/Paris',
      'Asia/Shanghai',
      'America/Argentina/Buenos_Aires',
      'Etc/GMT+5',
    ]) {
      expect(timezoneProblem(zone)).toBeUndefined();
    }
  });

  it('rejects unknown names, offsets and wrong case', () => {
    expect(timezoneProblem('Mars/Olympus')).toMatch(/unknown IANA time zone/);
    expect(timezoneProblem('+08:00')).toMatch(/unknown IANA time zone/);
    expect(timezoneProblem('europe/paris')).toBe('time zone names are case-sensitive: write "Europe/Paris"');
  });
});
