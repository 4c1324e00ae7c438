/**
 * A local Kinesis mapping in a process of its own, for the crash test: it hands each batch to a
 * handler that appends the records' indexes to a file, checkpointing in a file, against a
 * kinesalite the test process owns (so killing this process loses nothing but itself).
 * Usage: node bin/run-ts.js test/integration/runtime/kinesis-child.ts <kinesisEndpoint> <streamArn> <checkpoints> <out>
 */
import { appendFileSync } from 'node:fs';
import { openKinesisCheckpoints } from '../../../kisflow/local/kinesis-checkpoints.ts';
import { createKinesisClient } from '../../../kisflow/local/kinesis-client.ts';
import { startKinesisPoller } from '../../../kisflow/local/kinesis-poller.ts';

const [endpoint, streamArn, checkpoints, out] = process.argv.slice(2);
if (!endpoint || !streamArn || !checkpoints || !out) {
  process.stderr.write('usage: kinesis-child.ts <kinesisEndpoint> <streamArn> <checkpoints> <out>\n');
  process.exit(2);
}
startKinesisPoller({
  kinesis: createKinesisClient({ endpoint }),
  streamArn,
  consumer: 'crash',
  checkpoints: openKinesisCheckpoints(checkpoints),
  startingPosition: 'trim_horizon',
  batchSize: 10,
  idlePollMs: 50,
  handler: async (event) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const lines = event.Records.map(
      (r) => (JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString()) as { i: number }).i,
    );
    appendFileSync(out, `${lines.join('\n')}\n`);
  },
  onFailure: async () => {
    throw new Error('no failure expected');
  },
  onError: (error) => process.stderr.write(`${(error as Error).message}\n`),
});
process.stdout.write(`ready ${process.pid}\n`);
