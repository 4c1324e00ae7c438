// `kisflow runs cancel` (and the console's cancel) tell job control at once: a `serial` fire queued
// behind the cancelled run starts within seconds, though the dev stack's sweep would take minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import {
  announceRunEnded,
  findControlQueue,
  sendControlMessage,
} from '../../../kisflow/aws/control-queue.ts';
import { cancelRun } from '../../../kisflow/cli/commands/runs.ts';
import { buildProject } from '../../../kisflow/config/build-project.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { CONTROL_VERSION } from '../../../kisflow/wire/control-message.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});

const project = buildProject({
  funcs: [{ fid: 'gate', fmode: 'Calculate' }],
  flows: [{ flow_id: 'slow', flows: [{ fid: 'gate' }] }],
  jobs: [{ job_id: 'Slow', schedule: 'rate(1 day)', flow_id: 'slow', overlap: 'serial' }],
});
const registry = new Registry().addFunction(
  'gate',
  defineFunction(async (rows, ctx) => {
    await gate;
    for (const r of rows) ctx.commit(r);
  }),
);

beforeAll(async () => {
  emulators = await startEmulators();
  const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
  stack = await startDevStack({
    dir: '.',
    root: process.cwd(),
    prefix: 'cancelend',
    project,
    registry,
    endpoints,
    logLevel: 'SILENT',
    lock: false,
    // Ten minutes: only the cancel's own run-ended message can start the queued fire in time.
    sweepMs: 600_000,
    waitTimeSeconds: 1,
  });
  clients = createAwsClients(endpoints);
}, 60_000);

afterAll(async () => {
  openGate();
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('runs cancel announces the end', () => {
  it('a serial fire queued behind a cancelled run starts right after the cancel, not at the sweep', async () => {
    const queue = (await findControlQueue(clients.sqs, 'cancelend')) as string;
    expect(queue).toBe(stack.resources.control?.queue);
    const fire = (run: string) =>
      sendControlMessage(clients.sqs, queue, {
        v: CONTROL_VERSION,
        kind: 'fire',
        job: 'Slow',
        at: new Date().toISOString(),
        trigger: 'manual',
        run,
      });
    await fire('slow-a');
    await until('slow-a running', async () =>
      (await stack.ledger.status('slow-a')) === 'running' ? true : undefined,
    );
    await fire('slow-b');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stack.ledger.get('slow-b')).toBeUndefined();

    const cancelledAt = Date.now();
    const cancelled = await cancelRun(stack.ledger, 'slow-a', 'test', (id) =>
      announceRunEnded(clients.sqs, 'cancelend', id),
    );
    expect(cancelled).toEqual({ run: expect.objectContaining({ status: 'cancelled' }) });
    const second = await until('slow-b started', () => stack.ledger.get('slow-b'));
    expect(second.status).toBe('running');
    expect(second.started - cancelledAt).toBeLessThan(10_000);
  });

  it('without a control queue (no jobs deployed under that prefix) nothing is sent and the cancel stands', async () => {
    expect(await findControlQueue(clients.sqs, 'no-such-deployment')).toBeUndefined();
    expect(await announceRunEnded(clients.sqs, 'no-such-deployment', 'r1')).toBe(false);
  });
});
