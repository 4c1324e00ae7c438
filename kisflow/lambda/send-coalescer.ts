import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * SendMessageBatch limits: 10 entries, and 1 MiB for the sum of the messages.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 1_048_576;

type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: BatchResultErrorEntry };

interface Pending {
  readonly entry: SendMessageBatchRequestEntry;
  readonly bytes: number;
  readonly settle: (outcome: Outcome | Error) => void;
}

function entryBytes(entry: SendMessageBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.MessageBody ?? '', 'utf8');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes +=
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType ?? '', 'utf8') +
      Buffer.byteLength(value.StringValue ?? '', 'utf8') +
      (value.BinaryValue?.byteLength ?? 0);
  }
  return bytes;
}

/**
 * An SQS client whose SendMessageBatch calls, when several are made in the same turn of the event
 * loop for one queue, go out merged into as few requests as SQS's limits allow; every other call
 * passes through unchanged.
 *
 * Why: the records of one invocation are processed in parallel and each sends its own output.
 * With small outputs (a message each) that is one request per record where one per ten would do;
 * SDK request handling (serialising, signing) is then most of a step's CPU time. Each caller still
 * gets the per-entry outcome of its own entries, under its own entry ids, so the per-record
 * contract (a record fails alone; failed entries are retried by the caller) is unchanged.
 * Entries wait at most until the next macrotask: nothing is held across invocations.
 */
export function coalescingSqsClient(sqs: SQSClient): SQSClient {
  const pending = new Map<string, Pending[]>();
  let scheduled = false;

  const flushQueue = async (queueUrl: string, items: Pending[]): Promise<void> => {
    const groups: Pending[][] = [];
    let group: Pending[] = [];
    let bytes = 0;
    for (const item of items) {
      if (group.length > 0 && (group.length === MAX_ENTRIES || bytes + item.bytes > MAX_BATCH_BYTES)) {
        groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(item);
      bytes += item.bytes;
    }
    if (group.length > 0) groups.push(group);
    await Promise.all(
      groups.map(async (g) => {
        let output: SendMessageBatchCommandOutput;
        try {
          output = await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: g.map((p, i) => ({ ...p.entry, Id: `c${i}` })),
            }),
          );
        } catch (err) {
          for (const p of g) p.settle(err as Error);
          return;
        }
        const failed = new Map((output.Failed ?? []).map((f) => [f.Id, f]));
        g.forEach((p, i) => {
          const error = failed.get(`c${i}`);
          p.settle(error === undefined ? { ok: true } : { ok: false, error: { ...error, Id: p.entry.Id } });
        });
      }),
    );
  };

  const flush = () => {
    scheduled = false;
    const all = [...pending];
    pending.clear();
    for (const [queueUrl, items] of all) void flushQueue(queueUrl, items);
  };

  const sendBatch = (input: SendMessageBatchCommand['input']): Promise<SendMessageBatchCommandOutput> => {
    const entries = input.Entries ?? [];
    const queueUrl = input.QueueUrl ?? '';
    return new Promise((resolve, reject) => {
      const outcomes: Outcome[] = [];
      let left = entries.length;
      let failedWith: Error | undefined;
      const done = () => {
        if (failedWith !== undefined) {
          reject(failedWith);
          return;
        }
        resolve({
          Successful: outcomes.flatMap((o, i) =>
            o.ok ? [{ Id: entries[i]?.Id, MessageId: undefined, MD5OfMessageBody: undefined }] : [],
          ),
          Failed: outcomes.flatMap((o) => (o.ok ? [] : [o.error])),
          $metadata: {},
        } as unknown as SendMessageBatchCommandOutput);
      };
      if (left === 0) {
        resolve({ Successful: [], Failed: [], $metadata: {} } as unknown as SendMessageBatchCommandOutput);
        return;
      }
      const list = pending.get(queueUrl) ?? [];
      pending.set(queueUrl, list);
      entries.forEach((entry, i) => {
        list.push({
          entry,
          bytes: entryBytes(entry),
          settle: (outcome) => {
            if (outcome instanceof Error) failedWith ??= outcome;
            else outcomes[i] = outcome;
            if (--left === 0) done();
          },
        });
      });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };

  // Only `send` is used by the transport; everything else is the real client's.
  return new Proxy(sqs, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return (command: unknown, ...rest: unknown[]) =>
        command instanceof SendMessageBatchCommand
          ? sendBatch(command.input)
          : (target.send as (c: unknown, ...r: unknown[]) => Promise<unknown>).call(target, command, ...rest);
    },
  });
}
