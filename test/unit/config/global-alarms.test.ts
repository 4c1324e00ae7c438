import { describe, expect, it } from 'vitest';
import { buildProject } from '../../../kisflow/config/build-project.ts';

describe('global alarm_email', () => {
  it('takes one address or a list, and refuses what is no address', () => {
    expect(buildProject({ global: { alarm_email: 'ops@example.com' } }).global.alarmEmails).toEqual([
      'ops@example.com',
    ]);
    expect(
      buildProject({ global: { alarm_email: ['a@example.com', 'b@example.com'] } }).global.alarmEmails,
    ).toEqual(['a@example.com', 'b@example.com']);
    expect(buildProject({}).global.alarmEmails).toBeUndefined();
    expect(() => buildProject({ global: { alarm_email: 'ops' } })).toThrow(/alarm_email/);
  });
});
