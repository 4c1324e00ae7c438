/**
 * The Flow page's per-step figures through the console's own context, over real emulators holding
 * the example project's queues with nobody consuming them (a `kisflow dev` whose pollers are not
 * running, found through `.kisflow/dev.json` as the console finds a live one): a message waiting
 * in a step queue shows its age, growing; the other steps show 0; with no run, the p95 is unknown
 * and says why.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import { type ConsoleContext, openConsoleContext } from '../../../kisflow/console/console-context.ts';
import { flowView } from '../../../kisflow/console/views/flow-view.ts';
import { writeDevEndpoints } from '../../../kisflow/local/dev-endpoints.ts';
import { type ProvisionedResources, provisionProject } from '../../../kisflow/local/provision.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { makeProject, REPO } from '../dev/dev-process.ts';

const PREFIX = 'figs';
let emulators: Emulators;
let clients: AwsClients;
let resources: ProvisionedResources;
let context: ConsoleContext;
let project: ReturnType<typeof makeProject>;
const saved = process.env.AWS_ENDPOINT_URL;

beforeAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  project = makeProject({});
  cpSync(join(REPO, 'flows'), join(project.root, 'flows'), { recursive: true });
  cpSync(join(REPO, 'functions'), join(project.root, 'functions'), { recursive: true });
  rmSync(join(project.root, 'flows', 'global.yml'));
  emulators = await startEmulators();
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  const loaded = await loadProject(join(project.root, 'flows'), { root: project.root });
  resources = await provisionProject(loaded, clients, { prefix: PREFIX });
  writeDevEndpoints(project.root, {
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
    prefix: PREFIX,
    pid: process.pid,
    runsTable: resources.runsTable,
  });
  context = openConsoleContext({ dir: join(project.root, 'flows'), root: project.root });
}, 60_000);

afterAll(async () => {
  context?.close();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
  project?.remove();
  if (saved !== undefined) process.env.AWS_ENDPOINT_URL = saved;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Flow page figures over a dev stack', () => {
  it('shows the age of the message waiting in a step queue, growing, and 0 elsewhere', async () => {
    expect(context.source).toBe('dev');
    const queue = resources.flows.payment_settlement?.stepQueues[1] as string;
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: '{"waiting":true}' }));
    await sleep(1_200);
    const first = await flowView(context, 'payment_settlement');
    const step1 = first.steps[1];
    expect(step1?.figures.oldestAge.note).toBe('ageFauxqs');
    expect(step1?.oldestAgeMs).toBeGreaterThanOrEqual(1_200);
    expect(step1?.backlog).toBe(1);
    expect(first.steps.filter((s) => s.index !== 1).map((s) => s.oldestAgeMs)).toEqual([0, 0, 0, 0]);
    // No run recorded: the p95 is unknown, and the page is told why.
    expect(step1?.p95Ms).toBeNull();
    expect(step1?.figures.p95.note).toBe('p95NoRuns');

    await sleep(1_200);
    const later = await flowView(context, 'payment_settlement');
    expect(later.steps[1]?.oldestAgeMs).toBeGreaterThanOrEqual((step1?.oldestAgeMs ?? 0) + 1_000);

    await clients.sqs.send(new PurgeQueueCommand({ QueueUrl: queue }));
    await sleep(1_100);
    expect((await flowView(context, 'payment_settlement')).steps[1]?.oldestAgeMs).toBe(0);
  });
});
