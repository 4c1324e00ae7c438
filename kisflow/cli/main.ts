import { KisFlowError } from '../errors.ts';
import { createProgram, type RegisterCommand } from './program.ts';

// Commands load lazily: `kisflow run` should not pay for the AWS SDK and the emulators that
// `kisflow dev` needs. Help (no command, or an unknown one) loads them all.
const commands: Record<string, () => Promise<{ register: RegisterCommand }>> = {
  init: () => import('./commands/init.ts'),
  validate: () => import('./commands/validate.ts'),
  run: () => import('./commands/run.ts'),
  graph: () => import('./commands/graph.ts'),
  schema: () => import('./commands/schema.ts'),
  dev: () => import('./commands/dev.ts'),
  send: () => import('./commands/send.ts'),
  tail: () => import('./commands/tail.ts'),
  dlq: () => import('./commands/dlq.ts'),
  redrive: () => import('./commands/redrive.ts'),
  jobs: () => import('./commands/jobs.ts'),
  runs: () => import('./commands/runs.ts'),
  console: () => import('./commands/console.ts'),
};

try {
  const name = process.argv[2];
  const wanted =
    name === '--version' || name === '-V'
      ? []
      : name !== undefined && name in commands
        ? [name]
        : Object.keys(commands);
  const modules = await Promise.all(wanted.map((n) => commands[n]?.() ?? Promise.reject(new Error(n))));
  await createProgram(modules.map((m) => m.register)).parseAsync(process.argv);
} catch (error) {
  // User mistakes (bad config, bad input, unknown flow) are KisFlowErrors: print the message,
  // never a stack. Anything else is a bug in KisFlow and keeps its stack for the report.
  if (error instanceof KisFlowError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `kisflow: internal error (please report it):\n${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exitCode = 70;
  }
}
