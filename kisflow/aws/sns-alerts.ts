import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { InfrastructureError } from '../errors.ts';
import type { Alert } from '../runs/alerts.ts';

/** SNS's subject limit: ASCII, at most 100 characters. */
const SUBJECT_MAX = 100;

/**
 * Publishes a job alert to the alert topic: the one-line reason as the text (what an email
 * subscriber reads), the run id, job and rule as message attributes (what a filter policy or a
 * queue subscriber reads).
 *
 * @throws InfrastructureError `ALERT_PUBLISH_FAILED` (retryable).
 * @example await publishAlert(sns, topicArn, { runId: 'r1', jobId: 'Nightly', rule: 'on_failure', message: 'run r1 of job Nightly failed: 3 rejected' });
 */
export async function publishAlert(sns: SNSClient, topicArn: string, alert: Alert): Promise<void> {
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  const subject = `KisFlow alert: ${alert.rule} ${alert.jobId ?? ''}`
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, SUBJECT_MAX);
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: subject,
        Message: alert.message,
        MessageAttributes: {
          runId: attribute(alert.runId),
          rule: attribute(alert.rule),
          ...(alert.jobId === undefined ? {} : { jobId: attribute(alert.jobId) }),
        },
      }),
    );
  } catch (error) {
    throw new InfrastructureError(
      'ALERT_PUBLISH_FAILED',
      `Could not publish the ${alert.rule} alert of run ${alert.runId} to ${topicArn}: ${(error as Error)?.message ?? String(error)}`,
      { runId: alert.runId, topicArn },
      { cause: error, retryable: true },
    );
  }
}

/**
 * An SNS client at the SQS client's endpoint, region and credentials: fauxqs and LocalStack serve
 * both services on one endpoint, and a client meant for a local stack must never reach AWS.
 */
export function snsClientBeside(sqs: SQSClient): SNSClient {
  const { region, endpoint, credentials } = sqs.config;
  return new SNSClient({ region, credentials, ...(endpoint === undefined ? {} : { endpoint }) });
}
