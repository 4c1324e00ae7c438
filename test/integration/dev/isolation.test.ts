import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { Sink, sendRows, waitFor } from '../runtime/harness.ts';
import { makeProject } from './dev-process.ts';

// Each misbehaving function fails only rows flagged for it; the others pass their rows on.
const misbehaving = (fid: string) => `kistype: func
fid: ${fid}
fmode: Calculate
option: { retry_times: 1, retry_duration: 200, max_receives: 2 }
---
kistype: flow
flow_id: ${fid}_flow
status: 1
flows:
  - fid: ${fid}
tuning: { batch_size: 1, timeout: 2 }
`;

const project = makeProject({
  'flows/isolation.yml': [
    misbehaving('exits'),
    misbehaving('crashes'),
    misbehaving('hangs'),
    `kistype: func
fid: passes
fmode: Calculate
---
kistype: flow
flow_id: healthy
status: 1
flows:
  - fid: passes
`,
  ].join('---\n'),
  'functions/exits.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  if (rows.some((r) => r.bad)) process.exit(3);
  ctx.reuse();
});
`,
  'functions/crashes.ts': `import { defineFunction } from 'kisflow';
export default defineFunction(async (rows, ctx) => {
  // Thrown outside the handler's promise: an uncaught exception, as a stray callback would throw.
  if (rows.some((r) => r.bad)) setTimeout(() => { throw new Error('stray callback blew up'); }, 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  ctx.reuse();
});
`,
  'functions/hangs.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  // A loop that never yields: no promise race can end it, only stopping its thread.
  if (rows.some((r) => r.bad)) for (;;) {}
  ctx.reuse();
});
`,
  'functions/passes.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((_rows, ctx) => ctx.reuse());
`,
});

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let sink: Sink;
const lines: string[] = [];
const FLOWS = ['exits_flow', 'crashes_flow', 'hangs_flow', 'healthy'];

beforeAll(async () => {
  emulators = await startEmulators();
  stack = await startDevStack({
    dir: 'flows',
    root: project.root,
    prefix: 'iso',
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    waitTimeSeconds: 1,
    logLevel: 'SILENT',
    log: (line) => lines.push(line),
  });
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  sink = new Sink(clients.sqs, stack.resources, FLOWS);
});

afterAll(async () => {
  await sink?.stop();
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
  project.remove();
});

describe('kisflow dev runs each flow in a worker of its own', () => {
  it.each([
    ['exits_flow', 'WORKER_EXITED', /process\.exit\(3\)/],
    ['crashes_flow', 'WORKER_CRASHED', /stray callback blew up/],
    ['hangs_flow', 'TIMEOUT', /did not finish within the flow's timeout of 2 s/],
  ])(
    '%s: the bad batch is retried, then dead-lettered with %s; the rest of the stack carries on',
    async (flow, code, reason) => {
      const tag = `${flow}-`;
      await sendRows(clients.sqs, stack.resources, flow, `${tag}bad`, [{ tx_id: `${tag}bad`, bad: true }]);
      await sendRows(clients.sqs, stack.resources, flow, `${tag}ok`, [{ tx_id: `${tag}ok` }]);
      await sendRows(clients.sqs, stack.resources, 'healthy', `${tag}h`, [{ tx_id: `${tag}h` }]);
      await waitFor(
        `${flow}: the bad row dead-lettered, the good one out`,
        () => {
          return sink.deadRows(flow, tag).length >= 1 && sink.outputRows(flow, tag).length >= 1;
        },
        60_000,
      );
      const dead = sink.deadRows(flow, tag);
      expect(dead.map((d) => d.row.tx_id)).toEqual([`${tag}bad`]);
      expect(dead[0]?.letter.code).toBe(code);
      expect(dead[0]?.letter.message).toMatch(reason);
      // The whole message is kept, so `kisflow redrive` can send it back after a fix.
      expect(dead[0]?.letter.kind).toBe('envelope');
      expect(sink.outputRows(flow, tag).map((r) => r.tx_id)).toEqual([`${tag}ok`]);
      await waitFor('the healthy flow', () => sink.outputRows('healthy', tag).length === 1);
      // Received twice (max_receives: 2) before the dead letter: two failures logged for it.
      expect(lines.filter((l) => l.includes(`flow ${flow} step 0`) && l.includes(code))).toHaveLength(2);
    },
    90_000,
  );

  it('is still serving every flow afterwards', async () => {
    for (const flow of FLOWS)
      await sendRows(clients.sqs, stack.resources, flow, `after-${flow}`, [{ tx_id: `after-${flow}` }]);
    await waitFor(
      'a row out of every flow',
      () => FLOWS.every((f) => sink.outputRows(f, 'after-').length === 1),
      30_000,
    );
  }, 40_000);
});
