import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A project folder inside the repository (so `import 'kisflow'` resolves; `.tmp-bench-*` is
 * git-ignored) with one function module per entry: `fid` → the handler's source text. For the
 * benchmarks that run functions as `kisflow dev` runs a project's, in a worker thread.
 */
export function writeFunctionModules(modules: Readonly<Record<string, string>>): string {
  const root = mkdtempSync(join(process.cwd(), '.tmp-bench-'));
  mkdirSync(join(root, 'functions'));
  for (const [fid, body] of Object.entries(modules)) {
    writeFileSync(
      join(root, 'functions', `${fid}.ts`),
      `import { defineFunction } from 'kisflow';\nexport default defineFunction(${body});\n`,
    );
  }
  return root;
}
