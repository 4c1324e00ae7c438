import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// Dependencies point inward (DESIGN §2): config, errors, ports import nothing of the project;
// the engine imports only them; only aws/, lambda/, local/ and localstack/ touch the AWS SDK;
// only lambda/ uses middy; infra reads config only.
const root = join(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] as string);
}

/** Project folder an import lands in ('kisflow/engine', 'infra', ...) or the package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.'))
    return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
  const path = relative(root, join(root, file, '..', spec));
  const parts = path.split('/');
  return parts[0] === 'kisflow' && parts.length > 2
    ? `kisflow/${parts[1]}`
    : parts[0] === 'kisflow'
      ? path.replace(/\.ts$/, '')
      : (parts[0] as string);
}

const rules: Array<{ from: string; allow: (t: string) => boolean; why: string }> = [
  {
    from: 'kisflow/config',
    allow: (t) => !t.startsWith('kisflow/') || t === 'kisflow/config' || t === 'kisflow/errors',
    why: 'config is the innermost layer',
  },
  {
    from: 'kisflow/errors.ts',
    allow: (t) => !t.startsWith('kisflow/'),
    why: 'errors import nothing of the project',
  },
  {
    from: 'kisflow/ports.ts',
    allow: (t) => !t.startsWith('kisflow/'),
    why: 'ports import nothing of the project',
  },
  {
    from: 'kisflow/engine',
    allow: (t) =>
      ['kisflow/engine', 'kisflow/config', 'kisflow/errors', 'kisflow/ports', 'zod'].includes(t) ||
      t.startsWith('node:') ||
      // run-flow.ts runs the engine on the in-memory transport (which imports only ports).
      t === 'kisflow/memory',
    why: 'the engine knows nothing of AWS, middy, CDK or runtimes',
  },
  {
    from: 'kisflow/wire',
    allow: (t) =>
      ['kisflow/wire', 'kisflow/config', 'kisflow/errors', 'kisflow/ports', 'zod'].includes(t) ||
      t.startsWith('node:'),
    why: 'the wire contract is SDK-free: runtime and infra share it',
  },
  {
    from: 'kisflow/sources',
    allow: (t) =>
      ['kisflow/sources', 'kisflow/config', 'kisflow/errors', 'kisflow/ports', 'aws-lambda'].includes(t) ||
      t.startsWith('node:'),
    why: 'source decoders are SDK-free: Lambda event types only',
  },
  {
    from: 'kisflow/runs',
    allow: (t) =>
      // wire: the SDK-free control messages job control reads and writes (job-control.ts).
      ['kisflow/runs', 'kisflow/config', 'kisflow/errors', 'kisflow/ports', 'kisflow/wire'].includes(t) ||
      t.startsWith('node:'),
    why: 'runs and jobs logic knows nothing of AWS or runtimes',
  },
  {
    from: 'kisflow/memory',
    allow: (t) => !/^(@aws-sdk|@middy|aws-cdk-lib|kisflow\/(aws|lambda|local|cli))/.test(t),
    why: 'memory adapters sit beside the engine',
  },
  {
    from: 'kisflow/local',
    allow: (t) => t !== 'kisflow/cli',
    why: 'a runtime never imports the CLI (the CLI drives runtimes)',
  },
  {
    from: 'kisflow/lambda',
    allow: (t) => t !== 'kisflow/cli',
    why: 'a runtime never imports the CLI (the CLI drives runtimes)',
  },
  {
    from: 'kisflow/aws',
    allow: (t) => t !== 'kisflow/cli',
    why: 'adapters never import the CLI',
  },
  {
    from: 'kisflow/console',
    allow: (t) => t !== 'kisflow/lambda' && t !== 'infra' && t !== 'localstack',
    why: 'the console drives the CLI functions; it is no runtime and no part of infra',
  },
  {
    from: 'kisflow/console/ui',
    allow: (t) => t === 'kisflow/console' || ['preact', 'htm', 'uplot'].includes(t),
    why: 'the UI is browser code: its own files, Preact, htm and uPlot only',
  },
  {
    from: 'infra',
    allow: (t) => !/^kisflow\/(engine|aws|lambda|local|memory|cli)$/.test(t) && !t.startsWith('@middy'),
    why: 'infra reads config only',
  },
];

describe('architecture: dependencies point inward', () => {
  for (const rule of rules) {
    it(`${rule.from}: ${rule.why}`, () => {
      const checked = rule.from.endsWith('.ts') ? [rule.from] : files(rule.from);
      const bad = checked.flatMap((f) =>
        imports(f)
          .map((s) => ({ f, t: target(f, s) }))
          .filter(({ t }) => !rule.allow(t)),
      );
      expect(bad.map(({ f, t }) => `${f} -> ${t}`)).toEqual([]);
    });
  }

  it('only the console command imports the console (so no runtime or Lambda bundle carries it)', () => {
    const all = ['kisflow', 'infra', 'functions'].flatMap(files);
    const importers = all
      .filter((f) => !f.startsWith('kisflow/console/'))
      .filter((f) => imports(f).some((s) => target(f, s) === 'kisflow/console'));
    expect(importers).toEqual(['kisflow/cli/commands/console.ts']);
  });

  // The console reads CloudWatch for its figures: like the CLI commands it is an outer adapter, and
  // the test above and the import-graph test keep it out of every runtime and Lambda bundle.
  it('only aws/, lambda/, local/, the CLI commands and the console import the AWS SDK; only lambda/ imports middy', () => {
    const all = ['kisflow', 'infra', 'functions'].flatMap(files);
    const sdk = all
      .filter((f) => imports(f).some((s) => s.startsWith('@aws-sdk/')))
      .filter((f) => !/^kisflow\/(aws|lambda|local|cli\/commands|console)\//.test(f));
    const middy = all
      .filter((f) => imports(f).some((s) => s.startsWith('@middy/')))
      .filter((f) => !f.startsWith('kisflow/lambda/'));
    expect({ sdk, middy }).toEqual({ sdk: [], middy: [] });
  });
});
