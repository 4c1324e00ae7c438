/**
 * The AWS adapters: the SQS transport, the DynamoDB stores, EventBridge events and the
 * dead-letter tools. With the Lambda runtime, the only part of KisFlow that imports the AWS SDK.
 * The wire formats they speak (envelope, dead-letter record, limits) are `kisflow/wire`.
 */
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
export type { TailOptions, TailResult } from './queue-tail.ts';
export { tailQueue } from './queue-tail.ts';
export type { SqsTransportOptions, TransportStats } from './sqs-transport.ts';
export { SqsTransport } from './sqs-transport.ts';
export type { EnsuredTable } from './tables.ts';
export { ensureTable } from './tables.ts';
