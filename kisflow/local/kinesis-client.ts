import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isLoopbackEndpoint } from '../aws/clients.ts';

export interface KinesisClientOptions {
  /** @default - `AWS_ENDPOINT_URL`, else AWS */
  readonly endpoint?: string;
  /** @default - `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1` */
  readonly region?: string;
}

// As in aws/clients.ts: an emulator ignores credentials, but the SDK signs and needs some.
const LOOPBACK_CREDENTIALS = { accessKeyId: 'kisflow-local', secretAccessKey: 'kisflow-local' };

/**
 * A Kinesis client for the local shard poller, the dev stack and the tests. It always uses the
 * HTTP/1.1 handler: the Kinesis client's default is HTTP/2 (for SubscribeToShard), which
 * kinesalite does not speak (`ERR_HTTP2_ERROR: Protocol error` on the first call), and the poller
 * uses only the HTTP/1.1 operations (GetShardIterator, GetRecords). Lives in local/ because no
 * step Lambda uses Kinesis: the client stays out of their bundles.
 *
 * @example
 * const kinesis = createKinesisClient({ endpoint: emulators.kinesisEndpoint });
 */
export function createKinesisClient(options: KinesisClientOptions = {}): KinesisClient {
  const region = options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
  const endpoint = options.endpoint ?? (process.env.AWS_ENDPOINT_URL || undefined);
  const dummy =
    endpoint !== undefined &&
    isLoopbackEndpoint(endpoint) &&
    !process.env.AWS_ACCESS_KEY_ID &&
    !process.env.AWS_PROFILE;
  return new KinesisClient({
    region,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000 }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(dummy ? { credentials: LOOPBACK_CREDENTIALS } : {}),
  });
}
