import { KisFlowError } from '../errors.ts';
import { register as dev } from './commands/dev.ts';
import { register as dlq } from './commands/dlq.ts';
import { register as graph } from './commands/graph.ts';
import { register as redrive } from './commands/redrive.ts';
import { register as run } from './commands/run.ts';
import { register as schema } from './commands/schema.ts';
import { register as send } from './commands/send.ts';
import { register as tail } from './commands/tail.ts';
import { register as validate } from './commands/validate.ts';
import { createProgram } from './program.ts';

const program = createProgram([validate, run, graph, schema, dev, send, tail, dlq, redrive]);

try {
  await program.parseAsync(process.argv);
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
