import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';

/** The SDK clients KisFlow uses; build them once per process and pass them in. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly eventbridge: EventBridgeClient;
}

export interface AwsClientOptions {
  /** SQS endpoint. @default - `AWS_ENDPOINT_URL`, else AWS */
  readonly sqsEndpoint?: string;
  /** DynamoDB endpoint. @default - `AWS_ENDPOINT_URL`, else AWS */
  readonly dynamodbEndpoint?: string;
  /**
   * EventBridge endpoint.
   * @default - `sqsEndpoint` when given (a local stack serves every service on one endpoint, and
   * events meant for a local stack must never reach AWS), else `AWS_ENDPOINT_URL`, else AWS
   */
  readonly eventbridgeEndpoint?: string;
  /** @default - `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1` */
  readonly region?: string;
}

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`: an emulator, never AWS. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(host) ||
    host === '[::1]' ||
    host === '::1'
  );
}

// Emulators accept any credentials but the SDK still signs requests, so it needs some; on a
// developer machine without AWS credentials the default chain would fail before any request.
const LOOPBACK_CREDENTIALS = { accessKeyId: 'kisflow-local', secretAccessKey: 'kisflow-local' };

function clientConfig(endpoint: string | undefined, region: string) {
  if (endpoint === undefined) return { region };
  const dummy = isLoopbackEndpoint(endpoint) && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE;
  return { region, endpoint, ...(dummy ? { credentials: LOOPBACK_CREDENTIALS } : {}) };
}

/**
 * SQS, DynamoDB and EventBridge clients for AWS or a local endpoint. Endpoints are set on the
 * client explicitly (never left to the SDK's own `AWS_ENDPOINT_URL` handling) because the SQS
 * client sends requests to the host in a queue URL unless an endpoint is configured, and
 * emulators hand out queue URLs whose host does not resolve (`sqs.us-east-1.localhost`).
 *
 * @example
 * const { sqs, dynamodb } = createAwsClients({ sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint });
 */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const region = options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
  const fromEnv = process.env.AWS_ENDPOINT_URL || undefined;
  const sqsEndpoint = options.sqsEndpoint ?? fromEnv;
  return {
    sqs: new SQSClient(clientConfig(sqsEndpoint, region)),
    dynamodb: new DynamoDBClient(clientConfig(options.dynamodbEndpoint ?? fromEnv, region)),
    eventbridge: new EventBridgeClient(
      clientConfig(options.eventbridgeEndpoint ?? options.sqsEndpoint ?? fromEnv, region),
    ),
  };
}

/** Closes the clients' sockets (tests, CLI commands that exit). */
export function destroyAwsClients(clients: AwsClients): void {
  clients.sqs.destroy();
  clients.dynamodb.destroy();
  clients.eventbridge.destroy();
}
