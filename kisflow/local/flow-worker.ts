import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { deadLetterMessage } from '../aws/dead-letters.ts';
import type { ProjectConfig } from '../config/model.ts';
import { KisFlowError } from '../errors.ts';
import { retryDelaySeconds } from '../lambda/backoff.ts';
import type { Metrics } from '../ports.ts';
import { parseEnvelope } from '../wire/envelope.ts';
import type { FlowWorkerData, InvokeRequest, WorkerReply } from './flow-worker-thread.ts';
import type { SqsEventHandler } from './poller.ts';

/**
 * A source-fed flow's first step as a local mapping calls it: stream records or an existing
 * queue's messages in, the records to retry (sequence numbers, message ids) out.
 */
export type LocalSourceHandler = (
  event: KinesisStreamEvent | SQSEvent,
  context: Context,
) => Promise<KinesisStreamBatchResponse>;

export interface FlowWorkerOptions {
  /** What the thread needs to build the flow's step handlers. */
  readonly data: FlowWorkerData;
  /** The project, for each step's fid, `retry_duration` and wiring. */
  readonly project: ProjectConfig;
  /** For the dead letters and retry delays of batches whose worker died. */
  readonly sqs: SQSClient;
  /** Where the thread's metrics are counted. */
  readonly metrics: Metrics;
  /** A batch still running after this long fails with `TIMEOUT` (the flow's Lambda timeout). */
  readonly timeoutSeconds: number;
  /** One line per failed batch. */
  readonly log: (line: string) => void;
  /**
   * Each line the thread writes (its functions' Powertools logs, console output).
   * @default - the thread writes to this process's stdout and stderr directly
   */
  readonly output?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The run a message body names, for its dead letter's attributes (none when it is no envelope). */
function runOf(body: string): { run?: string } {
  try {
    return { run: parseEnvelope(body).run };
  } catch {
    return {};
  }
}

interface Pending {
  readonly request: InvokeRequest;
  readonly resolve: (response: SQSBatchResponse) => void;
  /**
   * A Kinesis batch's failure: thrown to the local mapping, which retries or bisects it as Lambda's
   * does after a function error. Unset: an SQS batch, whose messages are handled here.
   */
  readonly reject?: (error: KisFlowError) => void;
  /** Was in flight, with others, when a worker died: it runs alone next, to find the culprit. */
  suspect: boolean;
  timer?: NodeJS.Timeout;
}

// The thread is TypeScript: a worker does not inherit the parent's tsx loader, so it registers its
// own before importing the entry.
const BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./flow-worker-thread.ts', import.meta.url).href)}); });`;

/**
 * One flow's functions in a worker thread of their own, as Lambda runs each function in its own
 * sandbox: a function that calls `process.exit`, throws outside its promise or never returns fails
 * its own batch — retried, then dead-lettered with the reason (`WORKER_EXITED`, `WORKER_CRASHED`,
 * `TIMEOUT`) — and the thread is replaced; the dev stack and the other flows carry on. Batches of
 * the same flow that were in flight beside the culprit are run again in the new thread, not failed;
 * when it is not known which of several killed the thread, each runs alone until one does again.
 *
 * @example
 * const worker = new FlowWorker({ data, project, sqs, metrics, timeoutSeconds: 30, log });
 * await worker.start();
 * startPoller({ ..., handler: worker.handler(0) });
 */
export class FlowWorker {
  readonly #options: FlowWorkerOptions;
  #thread: Worker | undefined;
  #ready = false;
  #lastError: { code: string; message: string } | undefined;
  /** Set when this side ends the thread (timeout, stop): its exit is then not a crash. */
  #ending: { code: string; message: string; culprit?: Pending } | undefined;
  readonly #waiting: Pending[] = [];
  readonly #inFlight = new Map<number, Pending>();
  #nextId = 0;
  #started: ((error?: KisFlowError) => void) | undefined;
  #stopped = false;

  constructor(options: FlowWorkerOptions) {
    this.#options = options;
  }

  /**
   * Starts the thread and waits until its functions are loaded.
   * @throws KisFlowError with the loader's code when a function module does not load.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#started = (error) => (error ? reject(error) : resolve());
      this.#spawn();
    });
  }

  /** The handler a poller calls for `step`'s batches. */
  handler(step: number): SqsEventHandler {
    return (event: SQSEvent, context) =>
      new Promise<SQSBatchResponse>((resolve) => {
        const request: InvokeRequest = {
          t: 'invoke',
          id: this.#nextId++,
          step,
          event,
          functionName: context.functionName,
          requestId: context.awsRequestId || randomUUID(),
          deadline: 0,
        };
        this.#waiting.push({ request, resolve, suspect: false });
        this.#pump();
      });
  }

  /**
   * The handler a local mapping calls for a source-fed flow's first step: the Kinesis poller with
   * stream records, the source queue's poller with its messages.
   */
  sourceHandler(): LocalSourceHandler {
    return (event, context) =>
      new Promise<KinesisStreamBatchResponse>((resolve, reject) => {
        const request: InvokeRequest = {
          t: 'invoke',
          id: this.#nextId++,
          step: 0,
          event,
          source: true,
          functionName: context.functionName,
          requestId: context.awsRequestId || randomUUID(),
          deadline: 0,
        };
        this.#waiting.push({
          request,
          resolve: resolve as (response: unknown) => void,
          reject,
          suspect: false,
        });
        this.#pump();
      });
  }

  /** Ends the thread; call once the pollers have stopped (nothing is in flight any more). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const thread = this.#thread;
    if (thread === undefined) return;
    this.#ending = { code: 'STOPPED', message: 'the dev stack stopped' };
    await thread.terminate();
  }

  #spawn(): void {
    this.#ready = false;
    this.#lastError = undefined;
    this.#ending = undefined;
    const { output } = this.#options;
    const thread = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: this.#options.data,
      ...(output === undefined ? {} : { stdout: true, stderr: true }),
    });
    if (output !== undefined) {
      createInterface({ input: thread.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        output(line, 'stdout'),
      );
      createInterface({ input: thread.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        output(line, 'stderr'),
      );
    }
    this.#thread = thread;
    thread.on('message', (reply: WorkerReply) => this.#onReply(reply));
    thread.on('error', (err) => {
      this.#lastError = { code: 'WORKER_CRASHED', message: `${err.name}: ${err.message}` };
    });
    thread.once('exit', (exitCode) => {
      if (this.#thread !== thread) return;
      this.#thread = undefined;
      const ending = this.#ending ??
        this.#lastError ?? {
          code: 'WORKER_EXITED',
          message: `the function's worker exited with code ${exitCode} (process.exit?)`,
        };
      this.#died(ending.code, ending.message, this.#ending?.culprit);
    });
  }

  #onReply(reply: WorkerReply): void {
    switch (reply.t) {
      case 'ready':
        this.#ready = true;
        this.#started?.();
        this.#started = undefined;
        this.#pump();
        return;
      case 'exiting':
        this.#ending = {
          code: 'WORKER_EXITED',
          message: `the function called process.exit(${reply.code}), which ends its worker`,
        };
        void this.#thread?.terminate();
        return;
      case 'crashed':
        this.#ending = {
          code: 'WORKER_CRASHED',
          message: `an uncaught exception ended the function's worker: ${reply.message}`,
        };
        void this.#thread?.terminate();
        return;
      case 'load-failed':
        this.#ending = { code: reply.code, message: reply.message };
        void this.#thread?.terminate();
        if (this.#started) {
          this.#started(new KisFlowError(reply.code, reply.message, { flowId: this.#options.data.flowId }));
          this.#started = undefined;
        }
        return;
      case 'metrics':
        for (const m of reply.metrics) {
          if (m.kind === 'count') this.#options.metrics.count(m.name, m.value, m.dimensions);
          else this.#options.metrics.duration(m.name, m.value, m.dimensions);
        }
        return;
      case 'result':
      case 'failed': {
        const pending = this.#inFlight.get(reply.id);
        if (pending === undefined) return;
        this.#inFlight.delete(reply.id);
        clearTimeout(pending.timer);
        if (reply.t === 'result') pending.resolve(reply.response as SQSBatchResponse);
        else void this.#fail(pending, reply.code, reply.message);
        this.#pump();
        return;
      }
    }
  }

  /** Sends waiting batches to the thread; a suspect runs alone. */
  #pump(): void {
    if (this.#stopped || this.#waiting.length === 0) return;
    if (this.#thread === undefined) {
      this.#spawn();
      return;
    }
    if (!this.#ready) return;
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0] as Pending;
      const aloneRunning = [...this.#inFlight.values()].some((p) => p.suspect);
      if (aloneRunning || (next.suspect && this.#inFlight.size > 0)) return;
      this.#waiting.shift();
      this.#send(next);
      if (next.suspect) return;
    }
  }

  #send(pending: Pending): void {
    const thread = this.#thread as Worker;
    this.#inFlight.set(pending.request.id, pending);
    const { timeoutSeconds } = this.#options;
    pending.timer = setTimeout(() => {
      if (this.#thread !== thread || this.#ending !== undefined || !this.#inFlight.has(pending.request.id))
        return;
      // The function may be stuck in a loop that never yields: only ending the thread stops it.
      // Such a loop also stalls every other batch in the thread, so with several in flight the
      // late one is not necessarily the culprit: each then runs alone, as after an unexplained exit.
      this.#ending = {
        code: 'TIMEOUT',
        message: `the function did not finish within the flow's timeout of ${timeoutSeconds} s`,
        ...(this.#inFlight.size === 1 ? { culprit: pending } : {}),
      };
      void thread.terminate();
    }, timeoutSeconds * 1000);
    // The timeout counts from here: time spent waiting for a thread is not the function's.
    thread.postMessage({ ...pending.request, deadline: Date.now() + timeoutSeconds * 1000 });
  }

  #died(code: string, message: string, culprit?: Pending): void {
    const inFlight = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const p of inFlight) clearTimeout(p.timer);
    if (this.#started) {
      this.#started(new KisFlowError(code, message, { flowId: this.#options.data.flowId }));
      this.#started = undefined;
      return;
    }
    const again: Pending[] = [];
    for (const p of inFlight) {
      const guilty = culprit !== undefined ? p === culprit : inFlight.length === 1;
      if (guilty) void this.#fail(p, code, message);
      else {
        // Innocent or not yet known: it runs again in the next thread (alone when suspect).
        if (culprit === undefined) p.suspect = true;
        again.push(p);
      }
    }
    // A thread that cannot load its functions fails what waits, or it would be retried forever.
    if (code !== 'WORKER_EXITED' && code !== 'WORKER_CRASHED' && code !== 'TIMEOUT' && code !== 'STOPPED') {
      for (const p of this.#waiting.splice(0)) void this.#fail(p, code, message);
    }
    this.#waiting.unshift(...again);
    this.#pump();
  }

  /**
   * A batch whose function failed outside the handler's own error handling: each message is retried
   * after its `retry_duration` backoff, or dead-lettered with the reason on its last receive.
   */
  async #fail(pending: Pending, code: string, message: string): Promise<void> {
    const { project, data, sqs, log } = this.#options;
    if (pending.reject !== undefined) {
      log(`kisflow dev: flow ${data.flowId} Kinesis source (step 0): ${code}: ${message}`);
      pending.reject(new KisFlowError(code, message, { flowId: data.flowId }));
      return;
    }
    const { step } = pending.request;
    const event = pending.request.event as SQSEvent;
    const flow = project.flows.get(data.flowId);
    const fid = flow?.steps[step]?.fid ?? '';
    const wiring = data.wirings[step];
    const retryMs = project.funcs.get(fid)?.retryDurationMs ?? 0;
    log(`kisflow dev: flow ${data.flowId} step ${step} (${fid}): ${code}: ${message}`);
    const failures: { itemIdentifier: string }[] = [];
    await Promise.all(
      event.Records.map(async (record: SQSRecord) => {
        const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
        try {
          if (wiring !== undefined && receiveCount >= wiring.maxReceiveCount) {
            await deadLetterMessage(sqs, wiring.deadLetterQueue, record.body, {
              code,
              message,
              flow: data.flowId,
              step,
              fid,
              ...runOf(record.body),
            });
            return;
          }
          const delay = retryDelaySeconds(retryMs, receiveCount);
          if (delay !== undefined && wiring?.inputQueue !== undefined) {
            await sqs.send(
              new ChangeMessageVisibilityCommand({
                QueueUrl: wiring.inputQueue,
                ReceiptHandle: record.receiptHandle,
                VisibilityTimeout: delay,
              }),
            );
          }
        } catch (err) {
          log(`kisflow dev: flow ${data.flowId} step ${step}: ${(err as Error).message}`);
        }
        failures.push({ itemIdentifier: record.messageId });
      }),
    );
    pending.resolve({ batchItemFailures: failures });
  }
}
