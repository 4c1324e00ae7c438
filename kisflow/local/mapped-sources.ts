import type { FlowSpec } from '../config/model.ts';

/**
 * Whether `kisflow dev` plays the flow's event source mapping itself: a Kinesis stream (on
 * kinesalite) or an existing SQS queue (a local stand-in on fauxqs). DynamoDB Streams and Kafka
 * have no local server here; `kisflow send --as` feeds their recorded events.
 */
export function mappedLocally(flow: Pick<FlowSpec, 'source'>): boolean {
  return flow.source?.kinesis !== undefined || flow.source?.sqs !== undefined;
}
