/**
 * The AWS adapters: SQS transport, DynamoDB stores, provisioning and dead-letter tools. The only
 * part of KisFlow (with the Lambda runtime) that imports the AWS SDK.
 */
export { BATCH_ID_LENGTH, childBatchId, redriveBatchId } from './batch-id.ts';
export type { AwsClientOptions, AwsClients } from './clients.ts';
export { createAwsClients, destroyAwsClients, isLoopbackEndpoint } from './clients.ts';
export type { DeadLetterBody, DeadLetterReason, EncodedRecord, RejectedRecord } from './dead-letter.ts';
export {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterAttributes,
  encodeRejectedRecords,
  readDeadLetterBody,
  rejectedRecord,
} from './dead-letter.ts';
export { deadLetterMessage } from './dead-letter-send.ts';
export type { DeadLetter, DeadLetterReadOptions, RedriveOptions, RedriveTarget } from './dead-letters.ts';
export { listDeadLetters, RETRIES_EXHAUSTED, redrive } from './dead-letters.ts';
export type { FlowDeployment, FlowDeploymentOptions } from './deployment.ts';
export { enabledFlow, openFlowDeployment } from './deployment.ts';
export type { DynamoConnectorStoreOptions } from './dynamodb-connector-store.ts';
export { DynamoConnectorStore } from './dynamodb-connector-store.ts';
export type { DynamoStateStoreOptions } from './dynamodb-state-store.ts';
export { DynamoStateStore } from './dynamodb-state-store.ts';
export type { DevEndpoints, EndpointSource, ResolvedEndpoints } from './endpoints.ts';
export { readDevEndpoints, resolveEndpoints, writeDevEndpoints } from './endpoints.ts';
export type { Envelope } from './envelope.ts';
export { decodeEnvelope, ENVELOPE_VERSION, encodeEnvelope, parseEnvelope } from './envelope.ts';
export type { RowEvents } from './event-bridge.ts';
export { eventIdentity, putRowEvents } from './event-bridge.ts';
export type { PackedMessage, PackResult } from './pack.ts';
export { packBatch } from './pack.ts';
export type { ProvisionedResources, ProvisionOptions } from './provision.ts';
export { locateResources, provisionProject } from './provision.ts';
export type { TailOptions, TailResult } from './queue-tail.ts';
export { tailQueue } from './queue-tail.ts';
export { DEFAULT_MAX_MESSAGE_BYTES, SQS_MAX_BATCH_BYTES, SQS_MAX_MESSAGE_BYTES } from './sqs-limits.ts';
export type { SqsTransportOptions, TransportStats } from './sqs-transport.ts';
export { SqsTransport } from './sqs-transport.ts';
export type { EnsuredTable } from './tables.ts';
export { ensureTable, TABLE_KEY, TTL_ATTRIBUTE } from './tables.ts';
