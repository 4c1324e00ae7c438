import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** The framework's own version, from its package.json (`kisflow --version`). */
export const KISFLOW_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** A command module adds itself to the program; actions throw KisFlowError for user mistakes. */
export type RegisterCommand = (program: Command) => void;

export function createProgram(commands: readonly RegisterCommand[]): Command {
  const program = new Command('kisflow')
    .description('KisFlow: stream computation flows in YAML, functions in TypeScript, on AWS serverless')
    .version(KISFLOW_VERSION, '-V, --version', 'print the kisflow version')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });
  for (const register of commands) register(program);
  return program;
}
