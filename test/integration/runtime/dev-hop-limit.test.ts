import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { type DeadLetter, listDeadLetters } from '../../../kisflow/aws/dead-letters.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import { buildProject } from '../../../kisflow/config/build-project.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

// Under `kisflow dev` a function that jumps to itself used to loop for ever; the hop limit in the
// envelope stops it and dead-letters its rows with the reason, as in Lambda and `kisflow run`.
let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let runs = 0;

beforeAll(async () => {
  emulators = await startEmulators();
  const project = buildProject({
    funcs: [{ fid: 'spin', fmode: 'Calculate' }],
    flows: [{ flow_id: 'spinning', flows: [{ fid: 'spin' }], tuning: { max_hops: 6 } }],
  });
  const registry = new Registry().addFunction(
    'spin',
    defineFunction((rows, ctx) => {
      runs++;
      for (const r of rows) ctx.commit(r);
      ctx.jumpTo('spin');
    }),
  );
  stack = await startDevStack({
    dir: '.',
    root: process.cwd(),
    prefix: 'hops',
    project,
    registry,
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    logLevel: 'SILENT',
    waitTimeSeconds: 1,
  });
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
});

afterAll(async () => {
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

describe('hop limit under kisflow dev', () => {
  it('a self-jumping function stops after max_hops runs and its rows are dead-lettered with HOP_LIMIT', async () => {
    const queues = stack.resources.flows.spinning;
    if (!queues) throw new Error('not provisioned');
    const transport = new SqsTransport({ sqs: clients.sqs, queueUrl: () => queues.stepQueues[0] as string });
    await transport.send(
      { kind: 'step', flowId: 'spinning', step: 0 },
      { flowId: 'spinning', step: 0, runId: 'r', batchId: 'b', rows: [{ id: 1 }, { id: 2 }], meta: {} },
    );
    let dead: DeadLetter[] = [];
    for (let i = 0; i < 100 && dead.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      dead = await listDeadLetters(clients.sqs, queues.stepDeadLetterQueues[0] as string, {
        waitTimeSeconds: 0,
      });
    }
    expect(dead.map((d) => [d.code, d.rows])).toEqual([['HOP_LIMIT', 2]]);
    expect(dead[0]?.message).toMatch(/tuning\.max_hops: 6/);
    // Nothing keeps running once the rows are dead-lettered.
    await new Promise((r) => setTimeout(r, 1500));
    expect(runs).toBe(6);
  });
});
