/**
 * The AWS service limits KisFlow packs, sizes and schedules against (SQS, DynamoDB, EventBridge,
 * Lambda), and how SQS measures a message: one place, read by the runtime, `kisflow dev` and infra.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 */

/**
 * The largest message SQS accepts: 1 MiB (raised from 256 KiB in August 2025). Message attributes
 * count toward it.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** Packing target per message unless the flow's `tuning.max_message_bytes` says otherwise. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/**
 * Smallest packing limit we accept: below it the envelope's own fields leave too little room for
 * rows (and SQS's MaximumMessageSize attribute has this minimum too).
 */
export const MIN_MAX_MESSAGE_BYTES = 1_024;

/** Entries per SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch request. */
export const SQS_MAX_BATCH_ENTRIES = 10;

/**
 * The sum of all message sizes in one SendMessageBatch request: 1 MiB at the time of writing
 * ("The maximum allowed individual message size and the maximum total payload size (the sum of
 * the individual lengths of all of the batched messages) are both 1 MiB").
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 * Configurable on the transport because older SQS-compatible servers still enforce 256 KiB.
 */
export const SQS_MAX_BATCH_BYTES = 1_048_576;

/**
 * SQS caps a message's visibility timeout at 12 hours.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/** Messages per ReceiveMessage request. */
export const SQS_MAX_RECEIVE_MESSAGES = 10;

/**
 * The longest a queue keeps a message: 14 days (its default is 4). Dead-letter queues keep theirs
 * that long, so a dead letter outlives the message it came from.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
 */
export const SQS_MAX_RETENTION_SECONDS = 1_209_600;

/**
 * Largest item DynamoDB stores: 400 KB, attribute names included.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;
/** Partition key values: 1 to 2,048 bytes; sort key values: 1 to 1,024 bytes (same page). */
export const DYNAMODB_MAX_PARTITION_KEY_BYTES = 2_048;
export const DYNAMODB_MAX_SORT_KEY_BYTES = 1_024;
/** Items per BatchWriteItem request. */
export const DYNAMODB_BATCH_WRITE_MAX_ITEMS = 25;
/** Keys per BatchGetItem request. */
export const DYNAMODB_BATCH_GET_MAX_KEYS = 100;

/**
 * PutEvents: at most 10 entries and 256 KiB per request.
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
export const EVENTBRIDGE_PUT_MAX_ENTRIES = 10;
export const EVENTBRIDGE_PUT_MAX_BYTES = 262_144;

/**
 * An SQS event source mapping hands a function at most 10,000 records per batch (10 for FIFO).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export const LAMBDA_SQS_MAX_BATCH_SIZE = 10_000;

/** A message attribute as the SDK takes it. */
export interface StringAttribute {
  readonly DataType: 'String';
  readonly StringValue: string;
}

/**
 * The size SQS counts for a message: the body's UTF-8 bytes plus, per attribute, the bytes of its
 * name, data type and value.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-message-attributes
 */
export function messageSize(body: string, attributes?: Readonly<Record<string, StringAttribute>>): number {
  let size = Buffer.byteLength(body, 'utf8');
  if (attributes !== undefined) {
    for (const [name, attr] of Object.entries(attributes)) {
      size +=
        Buffer.byteLength(name, 'utf8') +
        Buffer.byteLength(attr.DataType, 'utf8') +
        Buffer.byteLength(attr.StringValue, 'utf8');
    }
  }
  return size;
}

// SQS allows #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a body
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
// JSON.stringify already escapes control characters and lone surrogates; U+FFFE/U+FFFF pass
// through it raw and SQS rejects them. Characters above U+FFFF are valid in AWS, but fauxqs rejects
// them (its check is per UTF-16 unit: see localstack/README.md), so we escape them too: a body is
// then valid on every SQS implementation, at 12 bytes instead of 4 for such a character.
const UNSAFE_IN_JSON = /[\uD800-\uDFFF\uFFFE\uFFFF]/g;

function escapeUnit(unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `JSON.stringify(value)` whose text every SQS implementation accepts as a message body: the
 * characters SQS (or an emulator) refuses are written as JSON `\uXXXX` escapes, which decode to
 * the same string.
 */
export function sqsSafeJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('sqsSafeJson: the value has no JSON form');
  return json.replace(UNSAFE_IN_JSON, escapeUnit);
}

// Attribute values are plain strings (no JSON escape to hide behind): disallowed characters become
// U+FFFD. They are for people reading a dead letter; the body keeps the exact data.
// biome-ignore lint/suspicious/noControlCharactersInRegex: SQS defines its allowed set by these code points.
const UNSAFE_IN_TEXT = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/g;

/** A `String` message attribute, its value made acceptable to SQS and cut to `maxLength` characters. */
export function stringAttribute(value: string, maxLength = 1024): StringAttribute {
  const clean = value.replace(UNSAFE_IN_TEXT, '\uFFFD');
  return {
    DataType: 'String',
    StringValue: clean.length > maxLength ? `${clean.slice(0, maxLength - 1)}…` : clean,
  };
}
