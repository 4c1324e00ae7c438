import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateProject } from '../../../kisflow/config/index.ts';
import { relativeIssues, useTempProjects } from './temp-project.ts';

const make = useTempProjects();

/** Validates a temporary project; issues come back with files relative to its root. */
async function issuesOf(files: Record<string, string>) {
  const root = make(files);
  const result = await validateProject(path.join(root, 'flows'), { root });
  return relativeIssues(result.issues, root);
}

const MODES =
  'must be one of Verify, Save, Load, Calculate, Expand (any case) or their initials V, S, L, C, E';

describe('shape errors, located', () => {
  it('reports an unknown key at the key, with a did-you-mean hint', async () => {
    const issues = await issuesOf({ 'flows/a.yml': 'kistype: func\nfid: A\nfmdoe: Calculate\n' });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 1,
        col: 1,
        message: expect.stringMatching(
          /^func "A": missing required field "fmode" \(What the function is for\./,
        ),
      },
      {
        file: 'flows/a.yml',
        line: 3,
        col: 1,
        message: 'func "A": unknown key "fmdoe" (did you mean "fmode"?)',
      },
    ]);
  });

  it('reports a nested unknown key at its own position', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: func\nfid: A\nfmode: Calculate\noption:\n  retry_time: 3\n',
      'functions/A.ts': '',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 5,
        col: 3,
        message: 'func "A": unknown key "retry_time" in option (did you mean "retry_times"?)',
      },
    ]);
  });

  it('lists the allowed keys when no key is close', async () => {
    const issues = await issuesOf({ 'flows/a.yml': 'kistype: func\nfid: A\nfmode: V\ncolour: red\n' });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 4,
        col: 1,
        message: 'func "A": unknown key "colour"; allowed keys: fid, fname, fmode, source, option, handler',
      },
    ]);
  });

  it('reports a wrong type at the value, with what was received', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: func\nfid: A\nfmode: Calculate\noption:\n  retry_times: three\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 5,
        col: 16,
        message: 'func "A": option.retry_times: expected an integer, got string "three"',
      },
    ]);
  });

  it('suggests quoting a number where an id is expected', async () => {
    const issues = await issuesOf({ 'flows/a.yml': 'kistype: flow\nflow_id: 42\nflows:\n  - fid: A\n' });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 2,
        col: 10,
        message: 'flow document: flow_id: expected a string, got number 42 (quote it: "42")',
      },
    ]);
  });

  it('reports a bad enum value with the allowed values and a hint', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: func\nfid: A\nfmode: Transform\n---\nkistype: func\nfid: B\nfmode: Calcualte\n',
      'flows/b.yml': 'kistype: flow\nflow_id: F\nstatus: 2\nflows:\n  - fid: A\n',
    });
    expect(issues).toEqual([
      { file: 'flows/a.yml', line: 3, col: 8, message: `func "A": fmode: ${MODES}; got "Transform"` },
      {
        file: 'flows/a.yml',
        line: 7,
        col: 8,
        message: `func "B": fmode: ${MODES}; got "Calcualte" (did you mean "Calculate"?)`,
      },
      { file: 'flows/b.yml', line: 3, col: 9, message: 'flow "F": status: must be 0 or 1, got number 2' },
    ]);
  });

  it('reports a missing required field at the start of its document, after comments', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: func\nfid: A\nfmode: Calculate\n---\n# nightly\nkistype: job\njob_id: J\nschedule: rate(5 minutes)\n',
      'functions/A.ts': '',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 6,
        col: 1,
        message: 'job "J": missing required field "flow_id" (Id of the flow each tick starts.)',
      },
    ]);
  });

  it('reports a missing id in either spelling', async () => {
    const issues = await issuesOf({ 'flows/a.yml': 'kistype: conn\nkey: [userid]\n' });
    expect(issues).toEqual([
      { file: 'flows/a.yml', line: 1, col: 1, message: "conn document: needs cid (or Go's spelling cname)" },
    ]);
  });

  it('reports a bad schedule at its value', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: job\njob_id: J\nschedule: every 5 minutes\nflow_id: F\n',
      'flows/b.yml': 'kistype: job\njob_id: K\nschedule: cron(0 8 * * MON *)\nflow_id: F\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 3,
        col: 11,
        message:
          'job "J": schedule: "every 5 minutes": not a schedule: expected rate(<n> minutes|hours|days), cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) or at(yyyy-mm-ddThh:mm:ss)',
      },
      {
        file: 'flows/b.yml',
        line: 3,
        col: 11,
        message:
          'job "K": schedule: "cron(0 8 * * MON *)": cron needs "?" in exactly one of day-of-month and day-of-week (e.g. cron(0 8 * * ? *))',
      },
    ]);
  });

  it('reports a bad timezone at its value', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: job\njob_id: J\nschedule: rate(1 hour)\ntimezone: Mars/Olympus\nflow_id: F\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 4,
        col: 11,
        message:
          'job "J": timezone: "Mars/Olympus": unknown IANA time zone (e.g. UTC, Europe/Paris, Asia/Shanghai)',
      },
    ]);
  });

  it('reports the AWS batch-window rule and key template mistakes', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: flow\nflow_id: F\nflows:\n  - fid: A\ntuning:\n  batch_size: 100\n',
      'flows/b.yml': 'kistype: conn\ncid: C\nkey: "user#{userid"\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 6,
        col: 15,
        message:
          'flow "F": tuning.batch_size: above 10 (got 100) needs batching_window of at least 1 second (AWS rule for SQS event sources)',
      },
      {
        file: 'flows/b.yml',
        line: 3,
        col: 6,
        message:
          'conn "C": key: template "user#{userid" has an unmatched brace; write placeholders as {field}',
      },
    ]);
  });

  it('reports two spellings of one field that disagree', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: func\nfid: A\nfmode: Save\noption:\n  cid: C\n  cname: D\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 6,
        col: 10,
        message:
          'func "A": option.cname: cname "D" differs from cid "C": they are two spellings of one field, keep one',
      },
    ]);
  });
});

describe('documents and files', () => {
  it('reports YAML syntax errors located, and still checks the other files', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: func\nfid: A\nfid: B\nfmode: Calculate\n',
      'flows/b.yml':
        'kistype: func\nfid: C\nfmode: Calculat\n---\nkistype: flow\nflow_id: F\nflows:\n  - fid: Z\n',
    });
    expect(issues).toEqual([
      { file: 'flows/a.yml', line: 3, col: 1, message: 'YAML syntax error: Map keys must be unique' },
      {
        file: 'flows/b.yml',
        line: 3,
        col: 8,
        message: `func "C": fmode: ${MODES}; got "Calculat" (did you mean "Calculate"?)`,
      },
    ]);
  });

  it('reports an unknown kistype at its value, with a hint', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: fucn\nfid: A\nfmode: Calculate\n---\nkistype: flow\nflow_id: F\nflows:\n  - fid: A\n',
    });
    // The flow's step names A, which the mistyped document defines: no second, misleading error.
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 1,
        col: 10,
        message:
          'unknown kistype "fucn": must be one of func, flow, conn, global, job (did you mean "func"?)',
      },
    ]);
  });

  it('reports documents without kistype or that are not mappings', async () => {
    const issues = await issuesOf({ 'flows/a.yml': 'fid: A\nfmode: Calculate\n---\n- a\n- b\n' });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 1,
        col: 1,
        message: 'document has no kistype: add "kistype: func" (or flow, conn, global, job)',
      },
      {
        file: 'flows/a.yml',
        line: 4,
        col: 1,
        message: 'a document must be a mapping with a kistype (func, flow, conn, global or job), got a list',
      },
    ]);
  });

  it('reports a missing folder and a folder without YAML as issues', async () => {
    const root = make({});
    const missing = await validateProject(path.join(root, 'nope'), { root });
    expect(missing.project).toBeUndefined();
    expect(missing.issues).toHaveLength(1);
    expect(missing.issues[0]?.message).toMatch(
      /^directory not found: .*nope; pass the folder holding your YAML/,
    );
    const empty = await validateProject(path.join(root, 'flows'), { root });
    expect(empty.issues.map((i) => i.message)).toEqual(['no YAML files (*.yml, *.yaml) found here']);
  });

  it('rejects a second global document, naming the first', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: global\nprometheus_enable: true\n',
      'flows/b.yml': '# more\nkistype: global\nmetrics_namespace: Shop\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/b.yml',
        line: 2,
        col: 1,
        message: expect.stringMatching(
          /^a second global document: the first is at .*flows\/a\.yml:1:1; a project has at most one, merge them$/,
        ),
      },
    ]);
  });
});

describe('reference errors, located', () => {
  it('rejects a duplicate id at the second, naming the first', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: func\nfid: A\nfmode: Calculate\n',
      'flows/b.yml': 'kistype: func\nfname: A\nfmode: Calculate\n',
      'functions/A.ts': '',
    });
    expect(issues).toEqual([
      {
        file: 'flows/b.yml',
        line: 2,
        col: 8,
        message: expect.stringMatching(
          /^duplicate func id "A": already defined at .*flows\/a\.yml:2:6; ids must be unique per kistype$/,
        ),
      },
    ]);
  });

  it('reports a flow step naming a missing function, with a hint', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: func\nfid: Double\nfmode: Calculate\n---\nkistype: flow\nflow_id: F\nflows:\n  - fid: Double\n  - fid: Dubble\n',
      'functions/Double.ts': '',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 9,
        col: 10,
        message:
          'flow "F" step 2 uses function "Dubble", which has no func document (did you mean "Double"?)',
      },
    ]);
  });

  it('reports a flow without steps', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: flow\nflow_id: F\n---\nkistype: flow\nflow_id: G\nflows: []\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 1,
        col: 1,
        message: 'flow "F" has no steps: list its functions under flows (e.g. "- fid: MyFunction")',
      },
      {
        file: 'flows/a.yml',
        line: 6,
        col: 8,
        message: 'flow "G" has no steps: list its functions under flows (e.g. "- fid: MyFunction")',
      },
    ]);
  });

  it('does not report references to an object whose shape is wrong', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: func\nfid: A\nfmode: Calculate\nretry: 3\n---\nkistype: flow\nflow_id: F\nflows:\n  - fid: A\n',
    });
    expect(issues.map((i) => [i.line, i.col])).toEqual([[4, 1]]);
  });

  it('reports a function naming a missing connector', async () => {
    const issues = await issuesOf({
      'flows/a.yml':
        'kistype: func\nfid: S\nfmode: Save\noption:\n  cid: Ordrs\n---\nkistype: conn\ncid: Orders\nkey: [userid]\n',
      'functions/S.ts': '',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 5,
        col: 8,
        message: 'func "S" uses connector "Ordrs", which has no conn document (did you mean "Orders"?)',
      },
    ]);
  });

  it('reports save/load lists inconsistent with the functions', async () => {
    const yaml = [
      'kistype: func', // 1
      'fid: L',
      'fmode: Load',
      'option:',
      '  cid: Other', // 5
      '---',
      'kistype: func',
      'fid: S',
      'fmode: Save', // 9
      '---',
      'kistype: conn',
      'cid: Orders',
      'key: [userid]',
      'save:',
      '  - L', // 15
      '  - S',
      '  - Missing',
      'load: [S]', // 18
      '---',
      'kistype: conn',
      'cid: Other',
      'key: [userid]',
      'load: [L]',
      'save: [L]', // 24
      'flow: [Nope]',
    ].join('\n');
    const issues = await issuesOf({ 'flows/a.yml': yaml, 'functions/L.ts': '', 'functions/S.ts': '' });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 9,
        col: 8,
        message: 'func "S" has fmode Save but no connector: set option.cid to the id of a conn document',
      },
      {
        file: 'flows/a.yml',
        line: 15,
        col: 5,
        message:
          'conn "Orders" lists function "L" under save, but func "L" uses connector "Other"; set its option.cid to "Orders" or remove it from save',
      },
      {
        file: 'flows/a.yml',
        line: 16,
        col: 5,
        message:
          'conn "Orders" lists function "S" under save, but func "S" has no connector; set its option.cid to "Orders" or remove it from save',
      },
      {
        file: 'flows/a.yml',
        line: 17,
        col: 5,
        message: 'conn "Orders" lists function "Missing" under save, which has no func document',
      },
      {
        file: 'flows/a.yml',
        line: 18,
        col: 8,
        message:
          'conn "Orders" lists function "S" under load, but func "S" has no connector; set its option.cid to "Orders" or remove it from load',
      },
      {
        file: 'flows/a.yml',
        line: 24,
        col: 8,
        message:
          'conn "Other" lists function "L" under save, but func "L" has fmode Load; save lists Save functions',
      },
      {
        file: 'flows/a.yml',
        line: 25,
        col: 8,
        message: 'conn "Other" lists flow "Nope", which has no flow document',
      },
    ]);
  });

  it('reports missing handler modules, accepting usual suffixes', async () => {
    const yaml = [
      'kistype: func',
      'fid: A',
      'fmode: Calculate',
      'handler: functions/nope.ts', // 4
      '---',
      'kistype: func', // 6
      'fid: B',
      'fmode: Calculate',
      '---',
      'kistype: func',
      'fid: C',
      'fmode: Calculate',
      'handler: lib/c',
      '---',
      'kistype: conn',
      'cid: R',
      'type: redis',
      'key: k',
      'handler: connectors/redis.ts', // 19
    ].join('\n');
    const root = make({ 'flows/a.yml': yaml, 'lib/c.js': '' });
    const { issues } = await validateProject(path.join(root, 'flows'), { root });
    expect(relativeIssues(issues, root)).toEqual([
      {
        file: 'flows/a.yml',
        line: 4,
        col: 10,
        message: `func "A": handler module "functions/nope.ts" does not exist in ${root} (also tried with .ts, .js, .mts appended); create it, or set handler to the module's path from the project root`,
      },
      {
        file: 'flows/a.yml',
        line: 6,
        col: 1,
        message: `func "B": handler module "functions/B.ts" does not exist in ${root} (also tried with .ts, .js, .mts appended); create it, or set handler to the module's path from the project root`,
      },
      {
        file: 'flows/a.yml',
        line: 19,
        col: 10,
        message: `conn "R": handler module "connectors/redis.ts" does not exist in ${root} (also tried with .ts, .js, .mts appended); create it, or fix the path (from the project root)`,
      },
    ]);
  });

  it('reports a job starting a missing flow', async () => {
    const issues = await issuesOf({
      'flows/a.yml': 'kistype: job\njob_id: Nightly\nschedule: cron(0 2 * * ? *)\nflow_id: Ordrs\n',
    });
    expect(issues).toEqual([
      {
        file: 'flows/a.yml',
        line: 4,
        col: 10,
        message: 'job "Nightly" starts flow "Ordrs", which has no flow document',
      },
    ]);
  });
});
