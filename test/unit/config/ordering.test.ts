import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateProject } from '../../../kisflow/config/index.ts';
import { resourceNames } from '../../../kisflow/config/names.ts';
import { relativeIssues, useTempProjects } from './temp-project.ts';

const make = useTempProjects();

const FUNC = 'kistype: func\nfid: A\nfmode: Calculate\n---\n';
const flow = (tuning: string) => `${FUNC}kistype: flow\nflow_id: F\nflows:\n  - fid: A\ntuning:\n${tuning}`;

async function validate(tuning: string) {
  const root = make({ 'flows/a.yml': flow(tuning), 'functions/A.ts': 'export default () => {};\n' });
  const result = await validateProject(path.join(root, 'flows'), { root });
  return { issues: relativeIssues(result.issues, root), project: result.project };
}

describe('tuning.ordering', () => {
  it('reads the key fields into FlowTuning.ordering', async () => {
    const { issues, project } = await validate('  ordering: [order_id, line]\n');
    expect(issues).toEqual([]);
    expect(project?.flows.get('F')?.tuning.ordering).toEqual(['order_id', 'line']);
  });

  it('is unset (unordered) by default', async () => {
    const { project } = await validate('  batch_size: 5\n');
    expect(project?.flows.get('F')?.tuning.ordering).toBeUndefined();
  });

  it.each([
    [
      'a field name instead of a list',
      '  ordering: order_id\n',
      10,
      13,
      'tuning.ordering: expected a list, got string "order_id"',
    ],
    ['an empty list', '  ordering: []\n', 10, 13, 'tuning.ordering: must list at least one item'],
    [
      'a number in the list',
      '  ordering: [order_id, 7]\n',
      10,
      24,
      'tuning.ordering[1]: expected a string, got number 7',
    ],
    ['an empty name', '  ordering: [""]\n', 10, 14, 'tuning.ordering[0]: must not be empty'],
  ])('reports %s at its place', async (_what, tuning, line, col, message) => {
    const { issues } = await validate(tuning);
    expect(issues).toEqual([{ file: 'flows/a.yml', line, col, message: expect.stringContaining(message) }]);
  });

  it('reports what Lambda refuses on a FIFO queue: more than 10 messages, a batching window', async () => {
    const { issues } = await validate('  ordering: [id]\n  batch_size: 50\n  batching_window: 2\n');
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 11,
        col: 15,
        message:
          'flow "F": tuning.batch_size: must be at most 10 (got 50) with ordering: Lambda reads FIFO queues 10 messages at a time',
      },
      {
        file: 'flows/a.yml',
        line: 12,
        col: 20,
        message:
          'flow "F": tuning.batching_window: must be 0 (got 2) with ordering: Lambda has no batching window on FIFO queues',
      },
    ]);
  });

  it('names FIFO queues with .fifo, within the 80 characters SQS allows, apart from the standard ones', () => {
    const names = resourceNames();
    const long = 'x'.repeat(90);
    for (const name of [
      names.stepQueue(long, long, true),
      names.stepDeadLetterQueue(long, long, true),
      names.outputQueue(long, true),
      names.outputDeadLetterQueue(long, true),
    ]) {
      expect(name.endsWith('.fifo'), name).toBe(true);
      expect(name.length, name).toBeLessThanOrEqual(80);
    }
    expect(names.stepQueue('orders', 'save', true)).toBe('kisflow-orders--save.fifo');
    expect(names.stepDeadLetterQueue('orders', 'save', true)).toBe('kisflow-orders--save--dlq.fifo');
    // An unordered flow's names are what they were.
    expect(names.stepQueue('orders', 'save')).toBe('kisflow-orders--save');
  });
});
