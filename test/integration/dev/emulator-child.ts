/**
 * The embedded emulators in a process of their own, persisting to a directory, so a test can kill
 * them with SIGKILL. Prints `ready <sqsEndpoint> <dynamodbEndpoint>`.
 * Usage: node bin/run-ts.js test/integration/dev/emulator-child.ts <dataDir>
 */
import { startEmulators } from '../../../localstack/emulators.ts';

const [dataDir] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: emulator-child.ts <dataDir>\n');
  process.exit(2);
}
delete process.env.AWS_ENDPOINT_URL;
const emulators = await startEmulators({ dataDir });
process.stdout.write(`ready ${emulators.sqsEndpoint} ${emulators.dynamodbEndpoint}\n`);
process.once('SIGTERM', () => {
  void emulators.stop().then(() => process.exit(0));
});
