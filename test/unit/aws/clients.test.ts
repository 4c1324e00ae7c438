import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAwsClients, destroyAwsClients, isLoopbackEndpoint } from '../../../kisflow/aws/clients.ts';

afterEach(() => vi.unstubAllEnvs());

async function endpointOf(config: { endpoint?: () => Promise<{ hostname: string; port?: number }> }) {
  const e = await config.endpoint?.();
  return e === undefined ? undefined : `${e.hostname}:${e.port ?? ''}`;
}

describe('createAwsClients', () => {
  it('recognises loopback endpoints only', () => {
    for (const e of [
      'http://localhost:4566',
      'http://127.0.0.1:1',
      'http://sqs.localhost:9',
      'http://[::1]:80',
    ]) {
      expect(isLoopbackEndpoint(e)).toBe(true);
    }
    for (const e of ['https://sqs.us-east-1.amazonaws.com', 'http://10.0.0.2:4566', 'not a url']) {
      expect(isLoopbackEndpoint(e)).toBe(false);
    }
  });

  it('uses explicit endpoints, dummy credentials on loopback, region from env', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_PROFILE', '');
    vi.stubEnv('AWS_ENDPOINT_URL', '');
    vi.stubEnv('AWS_REGION', 'eu-west-3');
    const clients = createAwsClients({
      sqsEndpoint: 'http://127.0.0.1:1111',
      dynamodbEndpoint: 'http://127.0.0.1:2222',
    });
    expect(await endpointOf(clients.sqs.config)).toBe('127.0.0.1:1111');
    expect(await endpointOf(clients.dynamodb.config)).toBe('127.0.0.1:2222');
    // EventBridge follows SQS: events meant for a local stack never reach AWS.
    expect(await endpointOf(clients.eventbridge.config)).toBe('127.0.0.1:1111');
    expect(await clients.sqs.config.region()).toBe('eu-west-3');
    const credentials = await clients.dynamodb.config.credentials();
    expect(credentials.accessKeyId).toBe('kisflow-local');
    destroyAwsClients(clients);
  });

  it('honours AWS_ENDPOINT_URL for every client, keeping real credentials when present', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://localhost:4566');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_REGION', '');
    vi.stubEnv('AWS_DEFAULT_REGION', '');
    const clients = createAwsClients();
    expect(await endpointOf(clients.sqs.config)).toBe('localhost:4566');
    expect(await endpointOf(clients.dynamodb.config)).toBe('localhost:4566');
    expect(await clients.sqs.config.region()).toBe('us-east-1');
    expect((await clients.sqs.config.credentials()).accessKeyId).toBe('AKIAEXAMPLE');
    destroyAwsClients(clients);
  });
});
