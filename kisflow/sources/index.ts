/**
 * Sources: the records of Lambda's stream and queue event source mappings (Kinesis, DynamoDB
 * Streams, Kafka, SQS) and the change formats on them (AWS DMS, Debezium) decoded into rows,
 * without the AWS SDK. The source handler (kisflow/lambda/source-handler.ts) runs them.
 */
export type { ChangeOp, ChangeRow } from './change-row.ts';
export { debeziumChange } from './debezium-envelope.ts';
export { DMS_BEFORE_IMAGE_FIELD, dmsChange } from './dms-record.ts';
export { unmarshallImage } from './dynamodb-image.ts';
export { dynamodbStreamRecords } from './dynamodb-stream-records.ts';
export { type KafkaFormat, kafkaItemId, kafkaRecords } from './kafka-records.ts';
export { type KinesisFormat, kinesisRecords } from './kinesis-records.ts';
export {
  type SourceDecoding,
  type SourceEvent,
  sourceDecoding,
  sourceEventKind,
  sourceRecords,
} from './source-event.ts';
export type { RecordProblem, SourceEventKind, SourceRecord } from './source-record.ts';
export { sqsRecords } from './sqs-records.ts';
