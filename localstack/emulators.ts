import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildApp } from 'fauxqs';
import { openDurableSqsStore } from '../kisflow/local/sqs-journal.ts';

interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
  /** A LevelDB directory: tables and items survive the process. @default - in memory */
  readonly path?: string;
}
// dynalite is CommonJS without type declarations: load it through require with its real shape.
const dynalite = createRequire(import.meta.url)('dynalite') as (options?: DynaliteOptions) => Server;

interface KinesaliteOptions {
  readonly createStreamMs?: number;
  readonly deleteStreamMs?: number;
  readonly updateStreamMs?: number;
  /** Shards per account (AWS's default quota is far higher than kinesalite's 10). */
  readonly shardLimit?: number;
  /** A LevelDB directory: streams and records survive the process. @default - in memory */
  readonly path?: string;
}
// kinesalite is CommonJS without type declarations, like dynalite.
const kinesalite = createRequire(import.meta.url)('kinesalite') as (options?: KinesaliteOptions) => Server;

/** Local AWS-compatible servers for tests and `kisflow dev`. */
export interface Emulators {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly kinesisEndpoint: string;
  /** True when `AWS_ENDPOINT_URL` named a server someone else runs (nothing was started). */
  readonly external: boolean;
  /** Stops what was started (nothing when external). Safe to call twice. */
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Port for SQS (fauxqs); 0 picks a free one. @default 0 */
  readonly sqsPort?: number;
  /** Port for DynamoDB (dynalite); 0 picks a free one. @default 0 */
  readonly dynamodbPort?: number;
  /** Port for Kinesis (kinesalite); 0 picks a free one. @default 0 */
  readonly kinesisPort?: number;
  /**
   * A directory where queues, messages, tables and items are kept, so that they survive a crash
   * and a restart (`sqs.jsonl`, a journal; `dynamodb/` and `kinesis/`, LevelDB). One process at a time.
   * @default - everything in memory, gone when the process ends
   */
  readonly dataDir?: string;
}

// The only interface the emulators listen on. They have no authentication: never expose them.
const LOOPBACK = '127.0.0.1';

async function startSqs(
  port: number,
  dataDir?: string,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const durable = dataDir === undefined ? undefined : await openDurableSqsStore(join(dataDir, 'sqs.jsonl'));
  // fauxqs's startFauxqs() listens on 0.0.0.0 (every interface) with no option to change it; its
  // exported buildApp() gives the same server, which we bind to loopback ourselves.
  const app = buildApp({
    logger: false,
    // biome-ignore lint/suspicious/noExplicitAny: fauxqs defaults the SNS and S3 stores one by one; its types want all three.
    ...(durable === undefined ? {} : { stores: { sqsStore: durable.store } as any }),
  });
  if (durable !== undefined) {
    app.addHook('onSend', (_request: unknown, _reply: unknown, _payload: unknown, done: () => void) => {
      durable.flush();
      done();
    });
  }
  await app.listen({ port, host: LOOPBACK });
  const { port: actual } = app.server.address() as AddressInfo;
  durable?.restore(actual);
  return {
    endpoint: `http://${LOOPBACK}:${actual}`,
    stop: async () => {
      await app.close();
      durable?.close();
    },
  };
}

async function startDynamo(
  port: number,
  dataDir?: string,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  // Tables ACTIVE at once (DynamoDB takes seconds; tests and dev should not wait).
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir === undefined ? {} : { path: join(dataDir, 'dynamodb') }),
  });
  return listenOnLoopback(server, port);
}

async function startKinesis(
  port: number,
  dataDir?: string,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  // Streams ACTIVE at once, as tables are. kinesalite speaks HTTP/1.1 only: Kinesis clients for it
  // need the HTTP/1.1 handler (kisflow/local/kinesis-client.ts), the SDK's default HTTP/2 fails.
  const server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
    ...(dataDir === undefined ? {} : { path: join(dataDir, 'kinesis') }),
  });
  return listenOnLoopback(server, port);
}

async function listenOnLoopback(
  server: Server,
  port: number,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${actual}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        // Sockets of clients that are still open (keep-alive, a long poll) must not hold close() up.
        server.closeAllConnections();
        server.close((error?: Error | null) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * Starts fauxqs (SQS), dynalite (DynamoDB) and kinesalite (Kinesis) in this process on 127.0.0.1,
 * or, when `AWS_ENDPOINT_URL` is set (LocalStack, MiniStack), starts nothing and returns that
 * endpoint for all three. Gaps of the emulators and their workarounds: localstack/README.md.
 *
 * @example
 * const emulators = await startEmulators();
 * const clients = createAwsClients({ sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint });
 * // ...
 * await emulators.stop();
 */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const external = process.env.AWS_ENDPOINT_URL;
  if (external) {
    return {
      sqsEndpoint: external,
      dynamodbEndpoint: external,
      kinesisEndpoint: external,
      external: true,
      stop: async () => {},
    };
  }
  const started: { endpoint: string; stop: () => Promise<void> }[] = [];
  try {
    started.push(await startSqs(options.sqsPort ?? 0, options.dataDir));
    started.push(await startDynamo(options.dynamodbPort ?? 0, options.dataDir));
    started.push(await startKinesis(options.kinesisPort ?? 0, options.dataDir));
  } catch (error) {
    await Promise.all(started.map((server) => server.stop()));
    throw error;
  }
  const [sqs, dynamo, kinesis] = started as [(typeof started)[0], (typeof started)[0], (typeof started)[0]];
  let stopped: Promise<void> | undefined;
  return {
    sqsEndpoint: sqs.endpoint,
    dynamodbEndpoint: dynamo.endpoint,
    kinesisEndpoint: kinesis.endpoint,
    external: false,
    stop() {
      stopped ??= Promise.all(started.map((server) => server.stop())).then(() => undefined);
      return stopped;
    },
  };
}
