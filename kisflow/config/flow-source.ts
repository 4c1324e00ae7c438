import * as z from 'zod';
import { defined, type Locate } from './document-kind.ts';
import { ALWAYS } from './fields.ts';
import type { FlowSourceSpec, StreamMappingTuning } from './model.ts';
import { safeId } from './names.ts';

/**
 * The `source` of a flow: exactly one kind. Each stream kind is a strict object holding only the
 * mapping settings Lambda offers for it, so a setting the kind does not have is an unknown key at
 * its own position. Limits are CreateEventSourceMapping's:
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */

const PARTITION = 'arn:aws[a-z-]*';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d';
const ACCOUNT = '\\d{12}';

function arnField(service: string, resource: string, example: string) {
  const pattern = new RegExp(`^${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}$`);
  return z
    .string()
    .regex(pattern, { error: `must be an ARN like ${example}` })
    .describe(`ARN, like \`${example}\`.`);
}

export const KINESIS_STREAM_ARN = arnField(
  'kinesis',
  'stream/[A-Za-z0-9_.-]{1,128}(?:/consumer/[A-Za-z0-9_.-]{1,128}:\\d+)?',
  'arn:aws:kinesis:us-east-1:123456789012:stream/orders',
);
const DYNAMODB_STREAM_ARN = arnField(
  'dynamodb',
  'table/[A-Za-z0-9_.-]{3,255}/stream/[0-9A-Za-z:.-]+',
  'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000',
);
const MSK_CLUSTER_ARN = arnField(
  'kafka',
  'cluster/[A-Za-z0-9-]{1,64}/[0-9a-f-]+(?:-\\d+)?',
  'arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1',
);
const SECRET_ARN = arnField(
  'secretsmanager',
  'secret:[A-Za-z0-9/_+=.@-]+',
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-login-AbCdEf',
);
const SQS_QUEUE_ARN = arnField(
  'sqs',
  '[A-Za-z0-9_-]{1,80}(?:\\.fifo)?',
  'arn:aws:sqs:us-east-1:123456789012:orders-in',
);

const filters = z
  .array(z.record(z.string(), z.unknown()))
  .min(1)
  .max(5)
  .optional()
  .describe(
    'Lambda filter criteria: event patterns (on `data` for Kinesis, `dynamodb` for streams, `value` for Kafka, `body` for SQS); a record matching none is skipped, never reaches the flow, and is not counted.',
  );

const batchSize = z.int().min(1).max(10_000).optional().describe('Records per invocation (BatchSize).');
const batchingWindow = z
  .int()
  .min(0)
  .max(300)
  .optional()
  .describe('Seconds to gather a batch (MaximumBatchingWindowInSeconds).');
const startingTimestamp = z.iso
  .datetime({ offset: true })
  .optional()
  .describe('ISO 8601 time to start at, with `starting_position: at_timestamp`.');

/** The retry settings of a stream mapping; failed batches end at the flow's DLQ. */
const retries = {
  bisect_on_error: z
    .boolean()
    .optional()
    .describe('Split a failing batch in two and retry each half (BisectBatchOnFunctionError).'),
  max_retries: z
    .int()
    .min(-1)
    .max(10_000)
    .optional()
    .describe(
      "Retries of a failing batch before its records' positions go to the flow's DLQ (MaximumRetryAttempts); -1: until the records expire.",
    ),
  max_record_age_seconds: z
    .int()
    .min(-1)
    .max(604_800)
    .refine((v) => v === -1 || v >= 60, { error: 'must be -1 (no limit) or 60..604800' })
    .optional()
    .describe(
      "Records older than this go to the flow's DLQ unprocessed (MaximumRecordAgeInSeconds); -1: no limit.",
    ),
};

const provisionedPollers = z
  .strictObject({
    minimum: z.int().min(1).max(200).optional().describe('Pollers kept ready (MinimumPollers).'),
    maximum: z.int().min(1).max(2000).optional().describe('Pollers at most (MaximumPollers).'),
  })
  .optional()
  .describe("Lambda's provisioned mode (ProvisionedPollerConfig): pollers kept ready for a steady load.");

type Ctx = z.core.$RefinementCtx;

function timestampRule(value: { starting_position?: string; starting_timestamp?: string }, ctx: Ctx): void {
  if (value.starting_position === 'at_timestamp' && value.starting_timestamp === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'at_timestamp needs starting_timestamp (an ISO 8601 time)',
      path: ['starting_position'],
    });
  }
  if (value.starting_timestamp !== undefined && value.starting_position !== 'at_timestamp') {
    ctx.addIssue({
      code: 'custom',
      message: 'applies only with starting_position: at_timestamp',
      path: ['starting_timestamp'],
    });
  }
}

const kinesis = z
  .strictObject({
    stream_arn: KINESIS_STREAM_ARN,
    format: z
      .enum(['json', 'dms'])
      .default('json')
      .describe(
        'How a record decodes: `json` (the data is a JSON row) or `dms` (AWS DMS change records, a MySQL/Postgres CDC).',
      ),
    starting_position: z
      .enum(['latest', 'trim_horizon', 'at_timestamp'])
      .default('trim_horizon')
      .describe(
        'Where a new mapping starts reading. Default trim_horizon: nothing in the stream is skipped.',
      ),
    starting_timestamp: startingTimestamp,
    batch_size: batchSize,
    batching_window_seconds: batchingWindow,
    parallelization_factor: z
      .int()
      .min(1)
      .max(10)
      .optional()
      .describe('Concurrent batches per shard (ParallelizationFactor); order is kept per partition key.'),
    ...retries,
    filters,
  })
  .superRefine(timestampRule)
  .describe('A Kinesis data stream (or an enhanced fan-out consumer of one); each record is a JSON row.');

const dynamodbStream = z
  .strictObject({
    connector: z
      .string()
      .min(1)
      .optional()
      .describe("Id of one of the project's `dynamodb` connectors: the stream is enabled on its table."),
    stream_arn: DYNAMODB_STREAM_ARN.optional(),
    starting_position: z
      .enum(['latest', 'trim_horizon'])
      .default('trim_horizon')
      .describe('Where a new mapping starts reading. Default trim_horizon.'),
    batch_size: batchSize,
    batching_window_seconds: batchingWindow,
    parallelization_factor: z
      .int()
      .min(1)
      .max(10)
      .optional()
      .describe('Concurrent batches per shard (ParallelizationFactor); order is kept per item key.'),
    ...retries,
    filters,
  })
  .superRefine((value, ctx) => {
    if ((value.connector === undefined) === (value.stream_arn === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs exactly one of connector (a project connector) and stream_arn (an existing stream)',
        path: [],
      });
    }
  }, ALWAYS)
  .describe(
    "A DynamoDB table's stream; each record is a row with the event name, keys, and old and new image.",
  );

const kafka = z
  .strictObject({
    msk_cluster_arn: MSK_CLUSTER_ARN.optional(),
    bootstrap_servers: z
      .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { error: 'must be host:port' }))
      .min(1)
      .optional()
      .describe("A self-managed cluster's brokers, `host:port`."),
    secret_arn: SECRET_ARN.optional().describe(
      'Secrets Manager secret with the SASL/SCRAM-512 login (required for bootstrap_servers; optional for MSK, which uses IAM without it).',
    ),
    topic: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, { error: 'must be a Kafka topic name (letters, digits, . _ -)' })
      .describe('The topic.'),
    format: z
      .enum(['json', 'debezium'])
      .default('json')
      .describe('How a record value decodes: `json` (a JSON row) or `debezium` (Debezium change envelopes).'),
    consumer_group: z
      .string()
      .regex(/^[A-Za-z0-9\-/*:_+=.@]{1,200}$/, { error: 'must be 1-200 of letters, digits and -/*:_+=.@' })
      .optional()
      .describe('Consumer group id. Default `kisflow-<flow id>`.'),
    starting_position: z
      .enum(['latest', 'trim_horizon', 'at_timestamp'])
      .default('trim_horizon')
      .describe('Where a new consumer group starts. Default trim_horizon (earliest).'),
    starting_timestamp: startingTimestamp,
    batch_size: batchSize,
    batching_window_seconds: batchingWindow,
    ...retries,
    filters,
    provisioned_pollers: provisionedPollers,
  })
  .superRefine((value, ctx) => {
    if ((value.msk_cluster_arn === undefined) === (value.bootstrap_servers === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs exactly one of msk_cluster_arn (MSK) and bootstrap_servers (a self-managed cluster)',
        path: [],
      });
    }
    if (value.bootstrap_servers !== undefined && value.secret_arn === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a self-managed cluster needs secret_arn, the SASL/SCRAM login Lambda connects with',
        path: ['bootstrap_servers'],
      });
    }
    // Lambda offers these for Kafka only in provisioned mode.
    // https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
    for (const key of ['bisect_on_error', 'max_retries', 'max_record_age_seconds'] as const) {
      if (value[key] !== undefined && value.provisioned_pollers === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'needs provisioned_pollers: Lambda has this Kafka setting only in provisioned mode',
          path: [key],
        });
      }
    }
    timestampRule(value, ctx);
  }, ALWAYS)
  .describe('A Kafka topic on MSK or a self-managed cluster; each record value is a JSON row.');

const sqs = z
  .strictObject({
    queue_arn: SQS_QUEUE_ARN,
    batch_size: batchSize,
    batching_window_seconds: batchingWindow,
    max_concurrency: z
      .int()
      .min(2)
      .max(1000)
      .optional()
      .describe('Concurrent invocations (ScalingConfig.MaximumConcurrency).'),
    filters,
    provisioned_pollers: provisionedPollers,
  })
  .superRefine((value, ctx) => {
    if ((value.batch_size ?? 10) > 10 && (value.batching_window_seconds ?? 0) < 1) {
      ctx.addIssue({
        code: 'custom',
        message: `above 10 (got ${value.batch_size}) needs batching_window_seconds of at least 1 (AWS rule for SQS event sources)`,
        path: ['batch_size'],
      });
    }
  })
  .describe(
    "An existing SQS queue; each message body is a JSON row. The queue's own redrive policy applies.",
  );

const KINDS = ['event_pattern', 'kinesis', 'dynamodb_stream', 'kafka', 'sqs'] as const;

export const flowSourceSchema = z
  .strictObject({
    event_pattern: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('An EventBridge event pattern; matching events enter the first step as rows.'),
    event_bus: z
      .string()
      .min(1)
      .optional()
      .describe("Name of the event bus. Default the account's default bus."),
    kinesis: kinesis.optional(),
    dynamodb_stream: dynamodbStream.optional(),
    kafka: kafka.optional(),
    sqs: sqs.optional(),
  })
  .superRefine((value, ctx) => {
    if (value.event_bus !== undefined && value.event_pattern === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs an event_pattern saying which events enter the flow',
        path: ['event_bus'],
      });
    }
    const given = KINDS.filter((kind) => value[kind] !== undefined);
    if (given.length === 0) {
      ctx.addIssue({ code: 'custom', message: `needs one of ${KINDS.join(', ')}`, path: [] });
    }
    for (const extra of given.slice(1)) {
      ctx.addIssue({
        code: 'custom',
        message: `a flow has one source, but ${given[0]} is given too; keep one of ${given.join(', ')} (a second source can feed another flow that Loads from a shared connector)`,
        path: [extra],
      });
    }
  }, ALWAYS)
  .describe(
    'Where rows come from besides `kisflow send` and jobs: exactly one of event_pattern, kinesis, dynamodb_stream, kafka, sqs.',
  );

type Parsed = z.output<typeof flowSourceSchema>;

function tuning(
  raw: {
    starting_timestamp?: string;
    batch_size?: number;
    batching_window_seconds?: number;
    parallelization_factor?: number;
    bisect_on_error?: boolean;
    max_retries?: number;
    max_record_age_seconds?: number;
    filters?: Record<string, unknown>[];
  },
  at: ReturnType<Locate>,
): Omit<StreamMappingTuning, 'startingPosition'> {
  return defined({
    startingTimestamp: raw.starting_timestamp,
    batchSize: raw.batch_size,
    batchingWindowSeconds: raw.batching_window_seconds,
    parallelizationFactor: raw.parallelization_factor,
    bisectOnError: raw.bisect_on_error,
    maxRetries: raw.max_retries,
    maxRecordAgeSeconds: raw.max_record_age_seconds,
    filters: raw.filters,
    at,
  });
}

/** The model of a parsed `source` (`locate` is the flow document's). */
export function flowSourceSpec(flowId: string, parsed: Parsed, locate: Locate): FlowSourceSpec {
  const { kinesis: k, dynamodb_stream: d, kafka: f, sqs: q } = parsed;
  return defined({
    eventPattern: parsed.event_pattern,
    eventBus: parsed.event_bus,
    kinesis: k && {
      streamArn: k.stream_arn,
      format: k.format,
      startingPosition: k.starting_position,
      ...tuning(k, locate(['source', 'kinesis'])),
    },
    dynamodbStream:
      d &&
      defined({
        connector: d.connector,
        streamArn: d.stream_arn,
        startingPosition: d.starting_position,
        ...tuning(
          d,
          locate(['source', 'dynamodb_stream', ...(d.connector === undefined ? [] : ['connector'])]),
        ),
      }),
    kafka:
      f &&
      defined({
        mskClusterArn: f.msk_cluster_arn,
        bootstrapServers: f.bootstrap_servers,
        secretArn: f.secret_arn,
        topic: f.topic,
        format: f.format,
        consumerGroup: f.consumer_group ?? `kisflow-${safeId(flowId, 180)}`,
        startingPosition: f.starting_position,
        provisionedPollers: f.provisioned_pollers,
        ...tuning(f, locate(['source', 'kafka'])),
      }),
    sqs:
      q &&
      defined({
        queueArn: q.queue_arn,
        batchSize: q.batch_size,
        batchingWindowSeconds: q.batching_window_seconds,
        maxConcurrency: q.max_concurrency,
        filters: q.filters,
        provisionedPollers: q.provisioned_pollers,
        at: locate(['source', 'sqs']),
      }),
  });
}

/** The kind of a source read by an event source mapping on the flow's first step, if it has one. */
export function mappedSourceKind(
  source: FlowSourceSpec | undefined,
): 'kinesis' | 'dynamodbStream' | 'kafka' | 'sqs' | undefined {
  if (source?.kinesis) return 'kinesis';
  if (source?.dynamodbStream) return 'dynamodbStream';
  if (source?.kafka) return 'kafka';
  if (source?.sqs) return 'sqs';
  return undefined;
}

/** Connector ids whose tables must carry a stream: a flow reads them as its `dynamodb_stream` source. */
export function streamedConnectors(flows: Iterable<{ readonly source?: FlowSourceSpec }>): Set<string> {
  const cids = new Set<string>();
  for (const flow of flows) {
    const cid = flow.source?.dynamodbStream?.connector;
    if (cid !== undefined) cids.add(cid);
  }
  return cids;
}

/** The queue name of an SQS ARN (`arn:aws:sqs:<region>:<account>:<name>`): its metrics' `QueueName`. */
export function queueNameOfArn(arn: string): string {
  return arn.split(':')[5] ?? arn;
}
