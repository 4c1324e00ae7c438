import type { Command } from 'commander';
import { validateProject } from '../../config/index.ts';
import { ConfigError } from '../../errors.ts';

export function register(program: Command): void {
  program
    .command('validate')
    .description(
      'check every YAML document under a directory; problems are printed as file:line:col: message',
    )
    .argument('[dir]', 'flows directory', 'flows')
    .action(async (dir: string) => {
      const { project, issues } = await validateProject(dir);
      if (issues.length > 0 || !project) throw new ConfigError(issues);
      const n = (m: ReadonlyMap<string, unknown>, what: string) =>
        `${m.size} ${what}${m.size === 1 ? '' : 's'}`;
      process.stdout.write(
        `${dir}: ok (${n(project.flows, 'flow')}, ${n(project.funcs, 'function')}, ${n(project.conns, 'connector')}, ${n(project.jobs, 'job')})\n`,
      );
    });
}
