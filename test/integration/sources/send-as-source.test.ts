/**
 * `kisflow send --as` under a real `kisflow dev`: recorded Kafka (Debezium) and Kinesis (DMS)
 * events go through the first step's source handler and reach the flow's output through the dev
 * stack's queues; the undecodable record is dead-lettered with its reason. No Kafka broker runs.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../../kisflow/ports.ts';
import { DevProcess, kisflow, makeProject } from '../dev/dev-process.ts';
import { Sink, waitFor } from '../runtime/harness.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'sources');

const PROJECT: Record<string, string> = {
  'flows/cdc.yml': `kistype: func
fid: current_order
fmode: Calculate
---
kistype: func
fid: emit_order
fmode: Expand
---
kistype: flow
flow_id: cdc
flows:
  - fid: current_order
  - fid: emit_order
source:
  kafka:
    msk_cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1"
    topic: orders
    format: debezium
---
kistype: flow
flow_id: dms
flows:
  - fid: current_order
  - fid: emit_order
source:
  kinesis: { stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/orders", format: dms }
`,
  // The change's current image, with what happened to it.
  'functions/current_order.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ ...(row.after ?? row.before), op: row.op, table: row.table, tx_id: 'cdc-' + row.op });
});
`,
  'functions/emit_order.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((_rows, ctx) => ctx.reuse());
`,
};

const byOp = (rows: Row[]) => [...rows].sort((a, b) => String(a.op).localeCompare(String(b.op)));

describe('kisflow send --as (under kisflow dev)', () => {
  const project = makeProject(PROJECT);
  const dev = new DevProcess(project.root, ['--fresh', '--no-watch']);
  let sink: Sink;
  beforeAll(async () => {
    const { clients, resources } = await dev.ready(project.root);
    sink = new Sink(clients.sqs, resources, ['cdc', 'dms']);
  }, 60_000);
  afterAll(async () => {
    await sink?.stop();
    await dev.kill('SIGINT');
    dev.close();
    project.remove();
  });

  it('runs a recorded Debezium event (--as kafka, the flow decodes debezium) through the flow to its output', async () => {
    const sent = await kisflow(project.root, [
      'send',
      'cdc',
      '--as',
      'kafka',
      '--input',
      join(FIXTURES, 'kafka-debezium.json'),
    ]);
    expect(sent.stderr).not.toMatch(/error/i);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toBe(
      'cdc: 6 kafka record(s) through step 0 (current_order): 4 row(s) in, 4 out, 0 rejected; 1 record(s) dead-lettered (kisflow dlq cdc), 1 skipped on purpose, 0 failed\n',
    );
    await waitFor('four output rows', () => sink.outputRows('cdc', 'cdc-').length === 4);
    expect(byOp(sink.outputRows('cdc', 'cdc-'))).toEqual([
      {
        order_id: 'o-1',
        user_id: 'u1',
        price: 10,
        qty: 2,
        op: 'delete',
        table: 'shop.orders',
        tx_id: 'cdc-delete',
      },
      {
        order_id: 'o-2',
        user_id: 'u2',
        price: 5,
        qty: 1,
        op: 'insert',
        table: 'shop.orders',
        tx_id: 'cdc-insert',
      },
      {
        order_id: 'o-1',
        user_id: 'u1',
        price: 10,
        qty: 2,
        op: 'snapshot',
        table: 'shop.orders',
        tx_id: 'cdc-snapshot',
      },
      {
        order_id: 'o-2',
        user_id: 'u2',
        price: 5,
        qty: 3,
        op: 'update',
        table: 'shop.orders',
        tx_id: 'cdc-update',
      },
    ]);
    await waitFor('the dead letter', () => sink.deadLetters.some((d) => d.flow === 'cdc'));
    expect(sink.deadLetters.find((d) => d.flow === 'cdc')).toMatchObject({
      step: 0,
      code: 'DEBEZIUM_BAD_ENVELOPE',
    });
  }, 60_000);

  it('runs recorded DMS records (--as dms) through the flow; rows as JSON Lines work too', async () => {
    const sent = await kisflow(project.root, [
      'send',
      'dms',
      '--as',
      'dms',
      '--input',
      join(FIXTURES, 'kinesis-dms.json'),
    ]);
    expect(sent.code).toBe(0);
    await waitFor('four DMS output rows', () => sink.outputRows('dms', 'cdc-').length === 4);
    expect(byOp(sink.outputRows('dms', 'cdc-')).map((r) => [r.op, r.order_id, r.qty])).toEqual([
      ['delete', 'o-1', 2],
      ['insert', 'o-2', 1],
      ['snapshot', 'o-1', 2],
      ['update', 'o-2', 3],
    ]);
    project.write('rows.jsonl', '{"order_id":"o-7","qty":9}\n');
    const rows = await kisflow(project.root, ['send', 'dms', '--as', 'dms', '--input', 'rows.jsonl']);
    expect(rows.code).toBe(0);
    await waitFor('the row sent as JSON Lines', () => sink.outputRows('dms', 'cdc-').length === 5);
    expect(sink.outputRows('dms', 'cdc-').find((r) => r.order_id === 'o-7')).toEqual({
      order_id: 'o-7',
      qty: 9,
      op: 'insert',
      table: 'local.rows',
      tx_id: 'cdc-insert',
    });
  }, 60_000);

  it('refuses an event of another kind than --as says, without a stack trace', async () => {
    const sent = await kisflow(project.root, [
      'send',
      'cdc',
      '--as',
      'kafka',
      '--input',
      join(FIXTURES, 'kinesis-dms.json'),
    ]);
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(/is a kinesis event, but --as kafka expects a kafka event/);
    expect(sent.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
