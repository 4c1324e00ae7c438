import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InfrastructureError } from '../errors.ts';

/**
 * Where one shard's consumer stands: after `sequenceNumber` (the last record whose batch is done),
 * or, before any record was done, `since` (when a `latest` start was first resolved, so a restart
 * reads what arrived while it was down instead of skipping to the new tip).
 */
export interface ShardCheckpoint {
  readonly sequenceNumber?: string;
  /** Epoch ms. */
  readonly since?: number;
  /** The shard is closed (resharded) and every record of it is done. */
  readonly ended?: boolean;
}

/** Per-shard checkpoints of the local Kinesis mapping, keyed by consumer, stream and shard. */
export interface KinesisCheckpoints {
  get(key: string): ShardCheckpoint | undefined;
  /** Durable on return: a crash of the process after it resumes after this checkpoint. */
  set(key: string, checkpoint: ShardCheckpoint): void;
}

/** The key of one consumer's (a flow's mapping's) checkpoint of one shard. */
export function checkpointKey(consumer: string, streamArn: string, shardId: string): string {
  return `${consumer} ${streamArn} ${shardId}`;
}

interface CheckpointFile {
  readonly v: 1;
  readonly shards: Record<string, ShardCheckpoint>;
}

/**
 * Checkpoints in one JSON file (`kinesis-checkpoints.json` in the dev data dir), rewritten
 * atomically (temporary file, rename) on every change: a crash leaves the old or the new file,
 * never half of one. As the SQS journal (sqs-journal.ts), it is written, not fsynced, per batch:
 * the page cache keeps it through a SIGKILL, and an fsync per batch cut the mapping's drain rate
 * to a fifth (`npm run bench -- kinesis`); only a power cut could lose the latest checkpoints,
 * and then records are handed again, not skipped. Without a file, in memory (gone with the process).
 *
 * @throws InfrastructureError `KINESIS_CHECKPOINTS_UNREADABLE` when the file exists but is not one.
 * @example
 * const checkpoints = openKinesisCheckpoints('.kisflow/dev/kinesis-checkpoints.json');
 * checkpoints.set(checkpointKey('orders', arn, 'shardId-000000000000'), { sequenceNumber });
 */
export function openKinesisCheckpoints(file?: string): KinesisCheckpoints {
  const shards = new Map<string, ShardCheckpoint>(Object.entries(file === undefined ? {} : read(file)));
  return {
    get: (key) => shards.get(key),
    set(key, checkpoint) {
      shards.set(key, checkpoint);
      if (file !== undefined) write(file, { v: 1, shards: Object.fromEntries(shards) });
    },
  };
}

function read(file: string): Record<string, ShardCheckpoint> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw unreadable(file, error);
  }
  let parsed: Partial<CheckpointFile> | null;
  try {
    parsed = JSON.parse(text) as Partial<CheckpointFile> | null;
  } catch (error) {
    throw unreadable(file, error);
  }
  if (parsed?.v !== 1 || typeof parsed.shards !== 'object' || parsed.shards === null)
    throw unreadable(file, new Error('not a version 1 checkpoint file'));
  return parsed.shards;
}

function write(file: string, content: CheckpointFile): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(content)}\n`);
  renameSync(temporary, file);
}

function unreadable(file: string, cause: unknown): InfrastructureError {
  return new InfrastructureError(
    'KINESIS_CHECKPOINTS_UNREADABLE',
    `Cannot read the Kinesis checkpoints in ${file}: ${(cause as Error).message}. Delete the file to start every shard at its starting position again (kisflow dev --fresh starts everything empty).`,
    { file },
    { cause, retryable: false },
  );
}
