import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { fsReason } from '../jsonl.ts';
import { KISFLOW_VERSION } from '../program.ts';

/** The framework's own folder: a new project depends on it with `file:` until it is published. */
const FRAMEWORK_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../template/', import.meta.url));
/** What infra/ imports: devDependencies of kisflow, so a project that installs kisflow adds them. */
const CDK_LIBRARIES = ['aws-cdk-lib', 'constructs', 'cdk-nag'];

interface InitOptions {
  kisflow?: string;
  name?: string;
}

/** npm package names: lowercase, URL-safe, at most 214 characters. */
function packageName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return (name || 'kisflow-project').slice(0, 214);
}

async function frameworkDevDependency(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(FRAMEWORK_ROOT, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const version = pkg.devDependencies?.[name];
  if (version === undefined) throw new Error(`kisflow's package.json lists no ${name} to scaffold with`);
  return version;
}

/**
 * The package.json of a new project. `"type": "module"`: functions are ES modules. `aws-cdk` gives
 * `npx cdk`, `esbuild` is what the CDK bundles each step with (it runs it in the project folder),
 * `vitest` runs test/; all at the versions this framework is tested with. A `file:` folder links
 * this checkout, whose node_modules serve the CDK app; an installed kisflow (a version, a tarball)
 * needs the CDK libraries its app imports in the project.
 */
async function projectPackage(name: string, kisflowSpec: string): Promise<string> {
  const linked = kisflowSpec.startsWith('file:') && !/\.t?gz$/.test(kisflowSpec);
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      test: 'vitest run',
      validate: 'kisflow validate',
      dev: 'kisflow dev',
      synth: 'cdk synth',
    },
    dependencies: { kisflow: kisflowSpec },
    devDependencies: Object.fromEntries(
      await Promise.all(
        ['aws-cdk', ...(linked ? [] : CDK_LIBRARIES), 'esbuild', 'vitest'].map(async (dep) => [
          dep,
          await frameworkDevDependency(dep),
        ]),
      ),
    ),
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

async function ensureEmptyDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UsageError('INIT_TARGET_UNUSABLE', `cannot use ${dir} for a new project: ${fsReason(e)}`);
  }
  if (entries.length > 0) {
    throw new UsageError(
      'INIT_TARGET_NOT_EMPTY',
      `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); give kisflow init a new or empty folder`,
      { dir },
    );
  }
}

/**
 * Writes a new project into `dir`: the template (flows/, functions/, test/, cdk.json, ...), the
 * framework's localstack compose file and a package.json that depends on `kisflowSpec`.
 */
export async function initProject(dir: string, options: InitOptions = {}): Promise<void> {
  const target = resolve(dir);
  await ensureEmptyDir(target);
  const name = options.name ?? packageName(target);
  const spec = options.kisflow ?? `file:${FRAMEWORK_ROOT.replace(/\/$/, '')}`;
  try {
    await mkdir(target, { recursive: true });
    await cp(TEMPLATE, target, { recursive: true });
    // npm pack drops files named .gitignore, so the template keeps it without the dot.
    await rename(join(target, 'gitignore'), join(target, '.gitignore'));
    const readme = join(target, 'README.md');
    await writeFile(readme, (await readFile(readme, 'utf8')).replaceAll('__NAME__', name));
    await mkdir(join(target, 'localstack'));
    await cp(
      join(FRAMEWORK_ROOT, 'localstack', 'docker-compose.yml'),
      join(target, 'localstack', 'docker-compose.yml'),
    );
    await writeFile(join(target, 'package.json'), await projectPackage(name, spec));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError('INIT_FAILED', `cannot write the new project in ${dir}: ${fsReason(e)}`, { dir });
  }
}

export function register(program: Command): void {
  program
    .command('init')
    .description('create a new KisFlow project: flows/, functions/, test/, cdk.json, package.json')
    .argument('<dir>', 'folder of the new project (created; must be empty if it exists)')
    .option(
      '--kisflow <spec>',
      `how the project depends on kisflow: an npm version, a tarball (npm pack) or file:<path> (default: file: this kisflow ${KISFLOW_VERSION}, ${FRAMEWORK_ROOT})`,
    )
    .option('--name <name>', 'package name (default: the folder name)')
    .action(async (dir: string, opts: InitOptions) => {
      await initProject(dir, opts);
      const cd = relative(process.cwd(), resolve(dir)) || '.';
      process.stdout.write(
        `Created a KisFlow project in ${cd}. Next:\n  cd ${cd}\n  npm install\n  npx kisflow validate\n  npx kisflow run orders --input flows/samples/orders.jsonl\n  npm test\n`,
      );
    });
}
