/**
 * A `kisflow dev` process for the crash test: the dev stack's pollers and handlers against
 * emulators the test process owns (so that killing this process loses nothing but itself).
 * Usage: node bin/run-ts.js test/integration/runtime/dev-child.ts <sqsEndpoint> <dynamodbEndpoint> <prefix>
 */
import { startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { FIXTURE_ROOT } from './harness.ts';

const [sqsEndpoint, dynamodbEndpoint, prefix] = process.argv.slice(2);
if (!sqsEndpoint || !dynamodbEndpoint || !prefix) {
  process.stderr.write('usage: dev-child.ts <sqsEndpoint> <dynamodbEndpoint> <prefix>\n');
  process.exit(2);
}
const stack = await startDevStack({
  dir: 'flows',
  root: FIXTURE_ROOT,
  prefix,
  endpoints: { sqsEndpoint, dynamodbEndpoint },
  visibilityTimeoutSeconds: 2,
  waitTimeSeconds: 1,
  logLevel: 'SILENT',
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`ready ${process.pid}\n`);
process.once('SIGTERM', () => {
  void stack.stop().then(() => process.exit(0));
});
