import type { Command } from 'commander';
import { validateProject } from '../../config/index.ts';
import { PREFIX_PATTERN } from '../../config/names.ts';
import { ConfigError, UsageError } from '../../errors.ts';
import { handlerIssues } from '../handler-issues.ts';

/**
 * `kisflow validate`: everything a later step would find, reported at once as `file:line:col`:
 * the YAML's shape and references, the synth-time checks (names after mangling and their limits,
 * jump targets, jobs of disabled flows, for the deployment prefix given), and every handler
 * module imported as a run or a deploy would.
 */
export function register(program: Command): void {
  program
    .command('validate')
    .description(
      'check every YAML document under a directory and import every handler; problems are printed as file:line:col: message',
    )
    .argument('[dir]', 'flows directory', 'flows')
    .option(
      '--prefix <prefix>',
      'the deployment prefix (cdk -c kisflow:prefix) whose names to check',
      'kisflow',
    )
    .action(async (dir: string, options: { prefix: string }) => {
      if (!PREFIX_PATTERN.test(options.prefix)) {
        throw new UsageError(
          'INVALID_PREFIX',
          `--prefix is ${JSON.stringify(options.prefix)}; use 1-20 ASCII letters, digits and single '-' between them, starting with a letter`,
        );
      }
      const { project, issues } = await validateProject(dir, { prefix: options.prefix });
      if (issues.length > 0 || !project) throw new ConfigError(issues);
      const handlers = await handlerIssues(project);
      if (handlers.length > 0) throw new ConfigError(handlers);
      const n = (m: ReadonlyMap<string, unknown>, what: string) =>
        `${m.size} ${what}${m.size === 1 ? '' : 's'}`;
      process.stdout.write(
        `${dir}: ok (${n(project.flows, 'flow')}, ${n(project.funcs, 'function')}, ${n(project.conns, 'connector')}, ${n(project.jobs, 'job')})\n`,
      );
    });
}
