import * as z from 'zod';
import { type DocumentKind, defined } from './document-kind.ts';
import {
  ALWAYS,
  fieldName,
  idField,
  nullableList,
  paramsField,
  requireOneOf,
  requireSameValue,
  statusField,
} from './fields.ts';
import { flowSourceSchema, flowSourceSpec } from './flow-source.ts';
import type { FlowSpec } from './model.ts';

const step = z
  .strictObject({
    fid: idField
      .optional()
      .describe('Id of the function this step runs. The same fid may appear in many steps.'),
    fname: idField.optional().describe("Go KisFlow's spelling of `fid`."),
    params: paramsField
      .optional()
      .describe(
        "This step's params; they override the function's `option.default_params`. `jump_targets` (a fid or a list) is optional: a step may `jumpTo` any step of its flow; when given, each fid must be a step of the flow.",
      ),
  })
  .superRefine((value, ctx) => {
    requireOneOf(value, ctx, ['fid', 'fname']);
    requireSameValue(value, ctx, ['fid', 'fname']);
  }, ALWAYS)
  .describe('One step: a function and its params.');

// Lambda and SQS limits: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
const tuning = z
  .strictObject({
    batch_size: z
      .int()
      .min(1)
      .max(10_000)
      .default(10)
      .describe('Messages per invocation of a step (SQS BatchSize).'),
    batching_window: z
      .int()
      .min(0)
      .max(300)
      .default(0)
      .describe('Seconds a step waits to gather a batch (MaximumBatchingWindowInSeconds).'),
    max_concurrency: z
      .int()
      .min(2)
      .max(1000)
      .optional()
      .describe('Concurrent invocations per step (ScalingConfig.MaximumConcurrency). Default: no limit.'),
    timeout: z.int().min(1).max(900).default(30).describe('Timeout of a step invocation, in seconds.'),
    memory: z.int().min(128).max(10_240).default(256).describe('Memory of a step, in MB.'),
    max_message_bytes: z
      .int()
      .min(1024)
      .max(1_048_576)
      .default(262_144)
      .describe('Size limit of a message between steps, in bytes; rows are packed up to it.'),
    max_hops: z
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe(
        'Step runs a batch may go through (jumpTo loops included) before it is dead-lettered with HOP_LIMIT. Default: 1000.',
      ),
    max_receives: z
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe(
        "Deliveries of a message to a step before it is dead-lettered (the SQS redrive maxReceiveCount): the budget for infrastructure failures (throttles, timeouts, a failed cold start). Row errors are retried by `retry_times`. A function's `option.max_receives` overrides it.",
      ),
    ordering: z
      .array(fieldName)
      .min(1)
      .optional()
      .describe(
        'Key fields: rows with equal values in them stay in order through every step (FIFO queues, one message group per key hash). Needs batch_size of at most 10 and no batching_window (Lambda on FIFO queues). Default: unordered, standard queues.',
      ),
  })
  .superRefine((value, ctx) => {
    // AWS rejects a batch size above 10 for SQS unless the batching window is at least one second.
    if (value.ordering === undefined && value.batch_size > 10 && value.batching_window < 1) {
      ctx.addIssue({
        code: 'custom',
        message: `above 10 (got ${value.batch_size}) needs batching_window of at least 1 second (AWS rule for SQS event sources)`,
        path: ['batch_size'],
      });
    }
    // Lambda's FIFO event source: at most 10 messages, no batching window.
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    if (value.ordering !== undefined && value.batch_size > 10) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most 10 (got ${value.batch_size}) with ordering: Lambda reads FIFO queues 10 messages at a time`,
        path: ['batch_size'],
      });
    }
    if (value.ordering !== undefined && value.batching_window > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be 0 (got ${value.batching_window}) with ordering: Lambda has no batching window on FIFO queues`,
        path: ['batching_window'],
      });
    }
  })
  .describe('How the flow runs in AWS: batching, concurrency and size of each step.');

const schema = z
  .strictObject({
    kistype: z.literal('flow').describe('Document type: a flow.'),
    flow_id: idField.optional().describe('Flow id (any Unicode). Required unless `flow_name` is given.'),
    flow_name: idField
      .optional()
      .describe('Display name; default the id. Without `flow_id` it is the id (Go KisFlow spelling).'),
    status: statusField
      .default(1)
      .describe(
        '1: on; 0: off: not run locally; in AWS its stack stays, with its queues no longer consumed and its schedules and event rule disabled.',
      ),
    flows: nullableList(step).optional().describe('The steps, in order.'),
    tuning: tuning.prefault({}),
    source: flowSourceSchema.optional(),
    scene: idField.optional().describe('Business group (scene) of the flow, for listing and permissions.'),
  })
  .superRefine((value, ctx) => requireOneOf(value, ctx, ['flow_id', 'flow_name']), ALWAYS)
  .meta({
    title: 'flow',
    examples: [
      {
        kistype: 'flow',
        flow_id: 'Orders',
        status: 1,
        flows: [{ fid: 'VerifyOrder' }, { fid: 'SaveOrder', params: { table_hint: 'daily' } }],
        tuning: { batch_size: 100, batching_window: 2 },
      },
    ],
  })
  .describe('A flow: a list of function steps run in order.');

export const flowDocument: DocumentKind<typeof schema, FlowSpec> = {
  kistype: 'flow',
  schema,
  idKeys: ['flow_id', 'flow_name'],
  toSpec(parsed, locate) {
    const flowId = (parsed.flow_id ?? parsed.flow_name) as string;
    const t = parsed.tuning;
    return defined({
      flowId,
      flowName: parsed.flow_name ?? flowId,
      enabled: parsed.status === 1,
      steps: (parsed.flows ?? []).map((s, i) =>
        defined({ fid: (s.fid ?? s.fname) as string, params: s.params ?? {}, at: locate(['flows', i]) }),
      ),
      tuning: defined({
        batchSize: t.batch_size,
        batchingWindowSeconds: t.batching_window,
        maxConcurrency: t.max_concurrency,
        timeoutSeconds: t.timeout,
        memoryMb: t.memory,
        maxMessageBytes: t.max_message_bytes,
        maxHops: t.max_hops,
        maxReceives: t.max_receives,
        ordering: t.ordering,
      }),
      source: parsed.source ? flowSourceSpec(flowId, parsed.source, locate) : undefined,
      scene: parsed.scene,
      at: locate([]),
    });
  },
};
