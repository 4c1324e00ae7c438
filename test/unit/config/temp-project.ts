import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { ConfigIssue } from '../../../kisflow/errors.ts';

/**
 * Projects written to temporary folders for one test file, removed after it. Paths in `files`
 * are relative to the project root; YAML usually goes under `flows/`.
 */
export function useTempProjects() {
  const base = mkdtempSync(path.join(tmpdir(), 'kisflow-config-'));
  let count = 0;
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  return (files: Record<string, string>): string => {
    const root = path.join(base, `p${count++}`);
    mkdirSync(path.join(root, 'flows'), { recursive: true });
    for (const [relative, content] of Object.entries(files)) {
      const target = path.join(root, relative);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    return root;
  };
}

/** Issues with files relative to `root`, to compare whole issues in tests. */
export function relativeIssues(issues: readonly ConfigIssue[], root: string): ConfigIssue[] {
  return issues.map((issue) =>
    issue.file === undefined
      ? issue
      : { ...issue, file: path.relative(root, issue.file).split(path.sep).join('/') },
  );
}
