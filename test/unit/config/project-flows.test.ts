import { describe, expect, it } from 'vitest';
import { formatConfigIssue, validateProject } from '../../../kisflow/config/index.ts';

describe("the project's own flows/", () => {
  it('validate without a single issue', async () => {
    const { project, issues } = await validateProject('flows', { root: '.' });
    expect(issues.map(formatConfigIssue)).toEqual([]);
    expect(project?.flows.size).toBeGreaterThan(0);
  });
});
