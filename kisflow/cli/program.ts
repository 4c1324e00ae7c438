import { Command } from 'commander';

/** A command module adds itself to the program; actions throw KisFlowError for user mistakes. */
export type RegisterCommand = (program: Command) => void;

export function createProgram(commands: readonly RegisterCommand[]): Command {
  const program = new Command('kisflow')
    .description('KisFlow: stream computation flows in YAML, functions in TypeScript, on AWS serverless')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });
  for (const register of commands) register(program);
  return program;
}
