/**
 * The SDK-free wire contract shared by the runtimes (aws/, lambda/, local/) and infra: the message
 * envelope and its builders, the dead-letter record, service limits, table keys, step wiring,
 * destination addressing and metric names.
 */
export type {
  DeadLetterBody,
  DeadLetterReason,
  EncodedRecord,
  RejectedRecord,
} from './dead-letter-record.ts';
export {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterAttributes,
  encodeRejectedRecords,
  readDeadLetterBody,
  rejectedRecord,
} from './dead-letter-record.ts';
export { destinationQueue, type FlowQueueUrls, type QueuesByStep } from './destination.ts';
export type { Envelope } from './envelope.ts';
export {
  decodeEnvelope,
  ENVELOPE_VERSION,
  encodeEnvelope,
  eventEnvelope,
  parseEnvelope,
  schedulerTime,
  tickEnvelope,
} from './envelope.ts';
export { fillMessages, type MessageFill } from './fill-messages.ts';
export * from './limits.ts';
export {
  MESSAGE_METRICS,
  METRICS_SERVICE,
  ROW_METRICS,
  stepDimensions,
  stepMetricDimensions,
} from './metric-names.ts';
export { checkMessageLimit, type PackedMessage, type PackResult, packBatch, rowBytes } from './pack.ts';
export { parseWiring, type StepWiring, WIRING_ENV } from './step-wiring.ts';
export { TABLE_KEY, TTL_ATTRIBUTE } from './table-keys.ts';
