import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { KisFlowError } from '../errors.ts';

/**
 * Durable queues for fauxqs 1.x, which keeps everything in memory (fauxqs 2.x persists to SQLite,
 * but needs Node 22.5's `node:sqlite`; this project supports Node 20). Every change a request makes
 * to a queue or a message is appended to a JSON Lines journal and written before the response
 * leaves (fastify's `onSend`), so a message SQS acknowledged survives a SIGKILL of the process;
 * a restart replays the journal into a fresh store. Bodies are written once, when a message is
 * enqueued; a receive, a delete or a move to the DLQ writes a short line.
 *
 * Not kept: FIFO deduplication ids (a 5-minute window in SQS) and FIFO group locks of in-flight
 * messages (an in-flight FIFO message comes back visible at once).
 */

// The fauxqs shapes this module touches (fauxqs exports no store types from its entry point).
interface SqsMessage {
  messageId: string;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  delayUntil?: number;
  messageGroupId?: string;
}
interface InflightEntry {
  message: SqsMessage;
  receiptHandle: string;
  visibilityDeadline: number;
}
interface ReceivedMessage {
  ReceiptHandle: string;
}
interface SqsQueue {
  name: string;
  url: string;
  arn: string;
  createdTimestamp: number;
  attributes: Record<string, string>;
  tags: Map<string, string>;
  messages: SqsMessage[];
  delayedMessages: SqsMessage[];
  inflightMessages: Map<string, InflightEntry>;
  fifoMessages: Map<string, SqsMessage[]>;
  isFifo(): boolean;
  enqueue(msg: SqsMessage): void;
  dequeue(max: number, visibility?: number, dlq?: (arn: string) => SqsQueue | undefined): ReceivedMessage[];
  deleteMessage(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, seconds: number): void;
  setAttributes(attributes: Record<string, string>): void;
  purge(): void;
  inspectMessages(): { ready: SqsMessage[]; delayed: SqsMessage[]; inflight: InflightEntry[] };
}
export interface SqsStore {
  queues: Map<string, SqsQueue>;
  createQueue(
    name: string,
    url: string,
    arn: string,
    attributes?: Record<string, string>,
    tags?: Record<string, string>,
  ): SqsQueue;
  deleteQueue(url: string): boolean;
  getQueue(url: string): SqsQueue | undefined;
  getQueueByName(name: string): SqsQueue | undefined;
}
type SqsStoreClass = new () => SqsStore;

/** One journal line. Messages are named by queue name and message id. */
type Entry =
  | {
      t: 'queue';
      name: string;
      url: string;
      arn: string;
      created: number;
      attributes: Record<string, string>;
      tags: Record<string, string>;
    }
  | { t: 'queue-deleted'; name: string }
  | { t: 'put'; q: string; m: SqsMessage }
  | { t: 'received'; q: string; id: string; count: number; first?: number; handle: string; until: number }
  | { t: 'visible'; q: string; id: string; until: number }
  | { t: 'moved'; from: string; to: string; id: string }
  | { t: 'deleted'; q: string; id: string }
  | { t: 'purged'; q: string };

interface KeptMessage {
  message: SqsMessage;
  handle?: string;
  until?: number;
  /** Its consumer set the visibility (a retry delay): the receive it is in was a real attempt. */
  delayed?: boolean;
}
interface KeptQueue {
  meta: Extract<Entry, { t: 'queue' }>;
  messages: Map<string, KeptMessage>;
}

/** Rewrites the journal as a snapshot once it is this much larger than the last snapshot. */
const COMPACT_FACTOR = 4;
const COMPACT_MIN_BYTES = 16 * 1024 * 1024;

let storeClass: Promise<SqsStoreClass> | undefined;

/** fauxqs's SqsStore class: its package exports only the app, so the file is loaded by path. */
function loadStoreClass(): Promise<SqsStoreClass> {
  storeClass ??= (async () => {
    const entry = import.meta.resolve('fauxqs');
    const module = (await import(new URL('./sqs/sqsStore.js', entry).href)) as { SqsStore?: SqsStoreClass };
    if (typeof module.SqsStore !== 'function') {
      throw new KisFlowError(
        'EMULATOR_UNSUPPORTED',
        'This fauxqs version has no SqsStore in dist/sqs/sqsStore.js; durable queues need fauxqs 1.x.',
      );
    }
    return module.SqsStore;
  })();
  return storeClass;
}

function replay(file: string, text: string): Map<string, KeptQueue> {
  const queues = new Map<string, KeptQueue>();
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line === '') continue;
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      // Only the last line can be torn (a write cut by the kill); anywhere else is corruption.
      if (index >= lines.length - 2) break;
      throw new KisFlowError(
        'JOURNAL_CORRUPT',
        `Line ${index + 1} of the SQS journal ${file} is not JSON, so its queues cannot be restored. Move the file away to keep it, or start empty with \`kisflow dev --fresh\`.`,
        { file, line: index + 1 },
      );
    }
    switch (e.t) {
      case 'queue': {
        const existing = queues.get(e.name);
        queues.set(e.name, { meta: e, messages: existing?.messages ?? new Map() });
        break;
      }
      case 'queue-deleted':
        queues.delete(e.name);
        break;
      case 'put':
        queues.get(e.q)?.messages.set(e.m.messageId, { message: e.m });
        break;
      case 'received': {
        const kept = queues.get(e.q)?.messages.get(e.id);
        if (kept) {
          kept.message.approximateReceiveCount = e.count;
          if (e.first !== undefined) kept.message.approximateFirstReceiveTimestamp = e.first;
          kept.handle = e.handle;
          kept.until = e.until;
          kept.delayed = false;
        }
        break;
      }
      case 'visible': {
        const kept = queues.get(e.q)?.messages.get(e.id);
        if (kept) {
          kept.until = e.until;
          kept.delayed = true;
        }
        break;
      }
      case 'moved': {
        const from = queues.get(e.from)?.messages;
        const kept = from?.get(e.id);
        if (kept) {
          from?.delete(e.id);
          queues.get(e.to)?.messages.set(e.id, { message: kept.message });
        }
        break;
      }
      case 'deleted':
        queues.get(e.q)?.messages.delete(e.id);
        break;
      case 'purged':
        queues.get(e.q)?.messages.clear();
        break;
    }
  }
  return queues;
}

/** A fauxqs store whose queues and messages are kept in a journal file. */
export interface DurableSqsStore {
  readonly store: SqsStore;
  /**
   * Puts the journal's queues and messages into the store, their URLs rebuilt for `port` (the port
   * the server now listens on), and starts recording. Call once, before any client knows the port.
   */
  restore(port: number): void;
  /** Writes what the current request changed; called before each response is sent. */
  flush(): void;
  /** Flushes and closes the journal. */
  close(): void;
  /** Messages restored from the journal. */
  readonly restored: number;
}

/**
 * Reads the journal at `file` (none yet: an empty store) and returns a fauxqs store for `buildApp`;
 * `restore(port)` once the server listens fills it and starts recording.
 *
 * @throws KisFlowError `JOURNAL_CORRUPT` for a journal damaged other than in its last line.
 * @example
 * const durable = await openDurableSqsStore('.kisflow/dev/sqs.jsonl');
 * const app = buildApp({ stores: { sqsStore: durable.store } });
 * app.addHook('onSend', (_q, _r, _p, done) => { durable.flush(); done(); });
 * await app.listen({ port: 0, host: '127.0.0.1' });
 * durable.restore((app.server.address() as AddressInfo).port);
 */
export async function openDurableSqsStore(file: string): Promise<DurableSqsStore> {
  const Store = await loadStoreClass();
  mkdirSync(dirname(file), { recursive: true });
  const kept = existsSync(file) ? replay(file, readFileSync(file, 'utf8')) : new Map<string, KeptQueue>();

  const store = new Store();
  let pending: string[] = [];
  let restoring = true;
  const record = (entry: Entry) => {
    if (!restoring) pending.push(JSON.stringify(entry));
  };
  // Which queue holds a message object: fauxqs moves a message to its DLQ by enqueueing the same
  // object there, so an enqueue of an object already held elsewhere is a move, not a new message.
  const home = new WeakMap<SqsMessage, string>();
  // In flight because their consumer asked for a delay (a retry backoff), not because it is busy.
  const retryDelayed = new WeakSet<SqsMessage>();

  const queueEntry = (q: SqsQueue): Entry => ({
    t: 'queue',
    name: q.name,
    url: q.url,
    arn: q.arn,
    created: q.createdTimestamp,
    attributes: { ...q.attributes },
    tags: Object.fromEntries(q.tags),
  });

  const instrument = (queue: SqsQueue) => {
    const { enqueue, dequeue, deleteMessage, changeVisibility, setAttributes, purge } = queue;
    queue.enqueue = (msg) => {
      const from = home.get(msg);
      if (from !== undefined && from !== queue.name)
        record({ t: 'moved', from, to: queue.name, id: msg.messageId });
      else if (from === undefined) record({ t: 'put', q: queue.name, m: msg });
      home.set(msg, queue.name);
      enqueue.call(queue, msg);
    };
    queue.dequeue = (max, visibility, dlq) => {
      const received = dequeue.call(queue, max, visibility, dlq);
      for (const r of received) {
        const entry = queue.inflightMessages.get(r.ReceiptHandle);
        if (!entry) continue;
        const m = entry.message;
        retryDelayed.delete(m);
        record({
          t: 'received',
          q: queue.name,
          id: m.messageId,
          count: m.approximateReceiveCount,
          ...(m.approximateFirstReceiveTimestamp === undefined
            ? {}
            : { first: m.approximateFirstReceiveTimestamp }),
          handle: entry.receiptHandle,
          until: entry.visibilityDeadline,
        });
      }
      return received;
    };
    queue.deleteMessage = (handle) => {
      const entry = queue.inflightMessages.get(handle);
      const deleted = deleteMessage.call(queue, handle);
      if (deleted && entry) {
        home.delete(entry.message);
        record({ t: 'deleted', q: queue.name, id: entry.message.messageId });
      }
      return deleted;
    };
    queue.changeVisibility = (handle, seconds) => {
      const entry = queue.inflightMessages.get(handle);
      changeVisibility.call(queue, handle, seconds);
      if (entry) retryDelayed.add(entry.message);
      if (entry)
        record({
          t: 'visible',
          q: queue.name,
          id: entry.message.messageId,
          until: Date.now() + seconds * 1000,
        });
    };
    queue.setAttributes = (attributes) => {
      setAttributes.call(queue, attributes);
      record(queueEntry(queue));
    };
    queue.purge = () => {
      purge.call(queue);
      record({ t: 'purged', q: queue.name });
    };
  };

  const { createQueue, deleteQueue, getQueue } = store;
  store.createQueue = (name, url, arn, attributes, tags) => {
    const queue = createQueue.call(store, name, url, arn, attributes, tags);
    instrument(queue);
    record(queueEntry(queue));
    return queue;
  };
  store.deleteQueue = (url) => {
    const queue = store.getQueue(url);
    const deleted = deleteQueue.call(store, url);
    if (deleted && queue) record({ t: 'queue-deleted', name: queue.name });
    return deleted;
  };
  // A client may still hold a URL from before a restart, when the port was another one.
  store.getQueue = (url) =>
    getQueue.call(store, url) ?? store.getQueueByName(url.slice(url.lastIndexOf('/') + 1));

  let restored = 0;
  let fd = -1;
  let snapshotBytes = 0;
  let journalBytes = 0;

  // The journal is rewritten as what is live now (temp file + rename: a kill mid-way keeps the old one).
  const compact = () => {
    const lines: string[] = [];
    for (const queue of store.queues.values()) {
      lines.push(JSON.stringify(queueEntry(queue)));
      const { ready, delayed, inflight } = queue.inspectMessages();
      for (const m of [...ready, ...delayed]) lines.push(JSON.stringify({ t: 'put', q: queue.name, m }));
      for (const { message: m, receiptHandle, visibilityDeadline } of inflight) {
        lines.push(JSON.stringify({ t: 'put', q: queue.name, m }));
        lines.push(
          JSON.stringify({
            t: 'received',
            q: queue.name,
            id: m.messageId,
            count: m.approximateReceiveCount,
            handle: receiptHandle,
            until: visibilityDeadline,
          }),
        );
        if (retryDelayed.has(m))
          lines.push(
            JSON.stringify({ t: 'visible', q: queue.name, id: m.messageId, until: visibilityDeadline }),
          );
      }
    }
    const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    const temporary = `${file}.${process.pid}.tmp`;
    const out = openSync(temporary, 'w');
    writeSync(out, text);
    closeSync(out);
    if (fd >= 0) closeSync(fd);
    renameSync(temporary, file);
    fd = openSync(file, 'a');
    snapshotBytes = Buffer.byteLength(text);
    journalBytes = snapshotBytes;
  };

  const flush = () => {
    if (pending.length === 0 || fd < 0) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    // Synchronous on purpose: the response must not leave before its change is in the file. The
    // page cache keeps it through a SIGKILL; only a power cut could lose it (no fsync per request).
    writeSync(fd, text);
    journalBytes += Buffer.byteLength(text);
    if (journalBytes > Math.max(COMPACT_MIN_BYTES, snapshotBytes * COMPACT_FACTOR)) compact();
  };

  const restore = (port: number) => {
    if (!restoring) return;
    for (const { meta, messages } of kept.values()) {
      const url = new URL(meta.url);
      url.port = String(port);
      const queue = store.createQueue(
        meta.name,
        url.href.replace(/\/$/, ''),
        meta.arn,
        meta.attributes,
        meta.tags,
      );
      queue.createdTimestamp = meta.created;
      const now = Date.now();
      for (const { message, handle, until, delayed: retrying } of messages.values()) {
        home.set(message, queue.name);
        restored++;
        const inFlight = handle !== undefined && until !== undefined && until > now;
        if (inFlight && !retrying) {
          // Its consumer died with this process mid-batch: the batch did not fail, so that receive
          // is not counted against maxReceiveCount, and it is handed out again at once instead of
          // after its visibility timeout. (An attempt that failed or timed out still counts.)
          message.approximateReceiveCount = Math.max(0, message.approximateReceiveCount - 1);
          queue.messages.push(message);
        } else if (inFlight && !queue.isFifo()) {
          queue.inflightMessages.set(handle, { message, receiptHandle: handle, visibilityDeadline: until });
          retryDelayed.add(message);
        } else if (queue.isFifo()) {
          const group = message.messageGroupId ?? '__default';
          queue.fifoMessages.set(group, [...(queue.fifoMessages.get(group) ?? []), message]);
        } else if (message.delayUntil !== undefined && message.delayUntil > now) {
          queue.delayedMessages.push(message);
        } else {
          queue.messages.push(message);
        }
      }
    }
    restoring = false;
    compact();
  };

  return {
    store,
    restore,
    flush,
    close() {
      flush();
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
    get restored() {
      return restored;
    },
  };
}
