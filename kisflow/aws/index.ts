/**
 * The AWS adapters: SQS transport, DynamoDB stores, provisioning and dead-letter tools. The only
 * part of KisFlow (with the Lambda runtime) that imports the AWS SDK.
 */

export type { FlowDeployment, FlowDeploymentOptions } from '../cli/deployment.ts';
export { enabledFlow, openFlowDeployment } from '../cli/deployment.ts';
export type { DevEndpoints, EndpointSource, ResolvedEndpoints } from '../cli/endpoints.ts';
export { readDevEndpoints, resolveEndpoints, writeDevEndpoints } from '../cli/endpoints.ts';
export type { ProvisionedResources, ProvisionOptions } from '../local/provision.ts';
export { locateResources, provisionProject } from '../local/provision.ts';
export type {
  DeadLetterBody,
  DeadLetterReason,
  EncodedRecord,
  RejectedRecord,
} from '../wire/dead-letter-record.ts';
export {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterAttributes,
  encodeRejectedRecords,
  readDeadLetterBody,
  rejectedRecord,
} from '../wire/dead-letter-record.ts';
export type { Envelope } from '../wire/envelope.ts';
export { decodeEnvelope, ENVELOPE_VERSION, encodeEnvelope, parseEnvelope } from '../wire/envelope.ts';
export { DEFAULT_MAX_MESSAGE_BYTES, SQS_MAX_BATCH_BYTES, SQS_MAX_MESSAGE_BYTES } from '../wire/limits.ts';
export { BATCH_ID_LENGTH, childBatchId, redriveBatchId } from './batch-id.ts';
export type { AwsClientOptions, AwsClients } from './clients.ts';
export { createAwsClients, destroyAwsClients, isLoopbackEndpoint } from './clients.ts';
export type { DeadLetter, DeadLetterReadOptions, RedriveOptions, RedriveTarget } from './dead-letters.ts';
export { deadLetterMessage, listDeadLetters, RETRIES_EXHAUSTED, redrive } from './dead-letters.ts';
export type { DynamoConnectorStoreOptions } from './dynamodb-connector-store.ts';
export { DynamoConnectorStore } from './dynamodb-connector-store.ts';
export type { DynamoStateStoreOptions } from './dynamodb-state-store.ts';
export { DynamoStateStore } from './dynamodb-state-store.ts';
export type { RowEvents } from './event-bridge.ts';
export { eventIdentity, putRowEvents } from './event-bridge.ts';
export type { PackedMessage, PackResult } from './pack.ts';
export { packBatch } from './pack.ts';
export type { TailOptions, TailResult } from './queue-tail.ts';
export { tailQueue } from './queue-tail.ts';
export type { SqsTransportOptions, TransportStats } from './sqs-transport.ts';
export { SqsTransport } from './sqs-transport.ts';
export type { EnsuredTable } from './tables.ts';
export { ensureTable, TABLE_KEY, TTL_ATTRIBUTE } from './tables.ts';
