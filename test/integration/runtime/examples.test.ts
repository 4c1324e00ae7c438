import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { loadProject, type ProjectConfig } from '../../../kisflow/config/index.ts';
import { FlowPlan, loadFunctions, type Registry, runFlow } from '../../../kisflow/engine/index.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { MemoryConnectorStore, MemoryStateStore } from '../../../kisflow/memory/index.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { Sink, sendRows, waitFor } from './harness.ts';

// The README's example flows, run twice: in memory (what `kisflow run` does) and through the
// real Lambda handlers on SQS and DynamoDB (what `kisflow dev` does). Order matters: payments
// load the orders that order_intake saved, shipments the payments that payment_settlement saved.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const FLOWS = [
  ['order_intake', 'orders.jsonl'],
  ['payment_settlement', 'payments.jsonl'],
  ['shipment_tracking', 'shipments.jsonl'],
] as const;

let project: ProjectConfig;
let registry: Registry;
let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let sink: Sink;
const inputs = new Map<string, Row[]>();

async function readSample(file: string): Promise<Row[]> {
  const text = await readFile(join(ROOT, 'flows', 'samples', file), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
}

/** Rows and rejections in a canonical order, for comparing two runs. */
const canonical = (rows: readonly Row[]) => rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();

beforeAll(async () => {
  const loaded = await loadProject(join(ROOT, 'flows'), { root: ROOT });
  // The examples serve Prometheus on a fixed port; this test needs no metrics endpoint.
  project = { ...loaded, global: { ...loaded.global, prometheusEnable: false } };
  registry = await loadFunctions(project);
  for (const [flowId, file] of FLOWS) inputs.set(flowId, await readSample(file));
  emulators = await startEmulators();
  stack = await startDevStack({
    dir: 'flows',
    root: ROOT,
    project,
    registry,
    prefix: 'examples',
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    visibilityTimeoutSeconds: 5,
    logLevel: 'SILENT',
  });
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  sink = new Sink(
    clients.sqs,
    stack.resources,
    FLOWS.map(([flowId]) => flowId),
  );
});

afterAll(async () => {
  await sink?.stop();
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

describe('the example flows under kisflow dev give what kisflow run gives', () => {
  it('orders, then payments, then shipments: same output rows, same rejected rows and reasons', async () => {
    const store = new MemoryConnectorStore();
    const state = new MemoryStateStore();
    for (const [flowId] of FLOWS) {
      const rows = inputs.get(flowId) ?? [];
      const memory = await runFlow(FlowPlan.build(project, flowId), rows, registry, { store, state });

      await sendRows(clients.sqs, stack.resources, flowId, `examples-${flowId}`, rows);
      const arrived = () => ({
        out: sink.outputs.filter((o) => o.flow === flowId).flatMap((o) => o.rows),
        rejected: sink.deadLetters
          .filter((d) => d.flow === flowId)
          .flatMap((d) => d.rows.map((r) => ({ ...r, step: d.step }))),
      });
      // Every input row is accounted for: output or dead-lettered with a reason.
      await waitFor(`${flowId}: all ${rows.length} rows accounted for`, () => {
        const a = arrived();
        return a.out.length + a.rejected.length >= rows.length;
      });
      const dev = arrived();

      expect(memory.output.length + memory.rejected.length, flowId).toBe(rows.length);
      expect(canonical(dev.out), flowId).toEqual(canonical(memory.output));
      expect(
        canonical(
          dev.rejected.map((r) => ({ step: r.step, code: r.code ?? '', reason: r.reason ?? '', row: r.row })),
        ),
        flowId,
      ).toEqual(
        canonical(memory.rejected.map((r) => ({ step: r.step, code: r.code, reason: r.reason, row: r.row }))),
      );
    }
    // The merge worked: shipments carry the order's sku through the payment.
    const shipped = sink.outputs.filter((o) => o.flow === 'shipment_tracking').flatMap((o) => o.rows);
    expect(shipped.map((r) => [r.order_id, r.sku, r.payment_id]).sort()).toEqual([
      ['o-1001', 'kettle', 'p-1'],
      ['o-1002', 'mug', 'p-2'],
      ['o-1003', 'teapot', 'p-3'],
    ]);
  });
});
