import { join } from 'node:path';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import type { ProvisionedResources } from '../../../kisflow/local/provision.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { DEAD_LETTER_ATTRIBUTES, readDeadLetterBody } from '../../../kisflow/wire/dead-letter-record.ts';
import { parseEnvelope } from '../../../kisflow/wire/envelope.ts';

export const FIXTURE_ROOT = join(import.meta.dirname, '..', '..', 'fixtures', 'runtime');

/** An output message as the flow's last step sent it. */
export interface OutputMessage {
  readonly flow: string;
  readonly batch: string;
  readonly rows: Row[];
}

/** A dead letter: its reason attributes and the rows it holds (rejected rows or a kept envelope). */
export interface DeadLetterSeen {
  readonly flow: string;
  readonly step: number;
  readonly code: string;
  readonly message: string;
  /** `rejected` (rows with reasons), `envelope` (a whole message kept), `unreadable` (kept as is). */
  readonly kind: 'rejected' | 'envelope' | 'unreadable';
  readonly body: string;
  readonly rows: { readonly row: Row; readonly code?: string; readonly reason?: string }[];
}

/**
 * Drains every output queue and DLQ of the given flows in the background, so tests wait on what
 * arrived instead of racing each other for messages.
 */
export class Sink {
  readonly outputs: OutputMessage[] = [];
  readonly deadLetters: DeadLetterSeen[] = [];
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[];

  constructor(sqs: SQSClient, resources: ProvisionedResources, flowIds: readonly string[]) {
    const queues: { url: string; flow: string; step?: number }[] = [];
    for (const flow of flowIds) {
      const r = resources.flows[flow];
      if (!r) throw new Error(`flow ${flow} was not provisioned`);
      queues.push({ url: r.outputQueue, flow });
      r.stepDeadLetterQueues.forEach((url, step) => {
        queues.push({ url, flow, step });
      });
    }
    this.#loops = queues.map((q) => this.#drain(sqs, q));
  }

  async #drain(sqs: SQSClient, q: { url: string; flow: string; step?: number }): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: q.url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.#stop.signal },
        );
        messages = out.Messages ?? [];
      } catch {
        if (this.#stop.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      for (const m of messages) this.#take(m, q);
      if (messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: q.url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    }
  }

  #take(m: Message, q: { flow: string; step?: number }): void {
    const body = m.Body ?? '';
    if (q.step === undefined) {
      const envelope = parseEnvelope(body);
      this.outputs.push({ flow: envelope.flow, batch: envelope.batch, rows: envelope.rows });
      return;
    }
    const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue ?? '';
    const read = readDeadLetterBody(body);
    const rows =
      read.kind === 'rejected'
        ? read.record.rows.map((r) => ({ row: r.row, code: r.code, reason: r.reason }))
        : read.kind === 'envelope'
          ? read.envelope.rows.map((row) => ({ row }))
          : [];
    this.deadLetters.push({
      flow: q.flow,
      step: q.step,
      code: attr(DEAD_LETTER_ATTRIBUTES.code) || 'RETRIES_EXHAUSTED',
      message: attr(DEAD_LETTER_ATTRIBUTES.message),
      kind: read.kind,
      body,
      rows,
    });
  }

  /** Output rows of a flow whose `tx_id` starts with `prefix`. */
  outputRows(flow: string, prefix: string): Row[] {
    return this.outputs
      .filter((o) => o.flow === flow)
      .flatMap((o) => o.rows.filter((r) => String(r.tx_id).startsWith(prefix)));
  }

  /** Dead-lettered rows of a flow whose `tx_id` starts with `prefix`. */
  deadRows(
    flow: string,
    prefix: string,
  ): { row: Row; code?: string; reason?: string; step: number; letter: DeadLetterSeen }[] {
    return this.deadLetters
      .filter((d) => d.flow === flow)
      .flatMap((d) =>
        d.rows
          .filter((r) => String(r.row.tx_id).startsWith(prefix))
          .map((r) => ({ ...r, step: d.step, letter: d })),
      );
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
  }
}

/** Waits until `check` returns true (polling), or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends rows into a flow's first queue, packed as `kisflow send` does. */
export async function sendRows(
  sqs: SQSClient,
  resources: ProvisionedResources,
  flowId: string,
  batchId: string,
  rows: readonly Row[],
): Promise<void> {
  const queues = resources.flows[flowId];
  if (!queues) throw new Error(`flow ${flowId} was not provisioned`);
  const transport = new SqsTransport({ sqs, queueUrl: () => queues.stepQueues[0] as string });
  await transport.send(
    { kind: 'step', flowId, step: 0 },
    { flowId, step: 0, runId: batchId, batchId, rows, meta: {} },
  );
}

/** Sends a raw body into a flow step's queue. */
export async function sendRaw(
  sqs: SQSClient,
  resources: ProvisionedResources,
  flowId: string,
  step: number,
  body: string,
): Promise<void> {
  await sqs.send(
    new SendMessageCommand({ QueueUrl: resources.flows[flowId]?.stepQueues[step], MessageBody: body }),
  );
}

/** Sum of `amount` per `user_id`. */
export function totalsByUser(rows: readonly Row[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const r of rows) totals[String(r.user_id)] = (totals[String(r.user_id)] ?? 0) + Number(r.amount);
  return totals;
}

/** Rows by `tx_id`, failing on two different rows with one id. */
export function byTxId(rows: readonly Row[]): Map<string, Row> {
  const map = new Map<string, Row>();
  for (const r of rows) {
    const id = String(r.tx_id);
    const seen = map.get(id);
    if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(r)) {
      throw new Error(`two different rows for tx ${id}: ${JSON.stringify(seen)} / ${JSON.stringify(r)}`);
    }
    map.set(id, r);
  }
  return map;
}
