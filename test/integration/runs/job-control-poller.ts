/** Test helper: job control polling a provisioned control queue, as `kisflow dev` runs it. */
import type { AwsClients } from '../../../kisflow/aws/clients.ts';
import type { ProjectConfig } from '../../../kisflow/config/model.ts';
import { createJobControlHandler } from '../../../kisflow/lambda/job-control-handler.ts';
import { type Poller, startPoller } from '../../../kisflow/local/poller.ts';
import type { ProvisionedResources } from '../../../kisflow/local/provision.ts';

export function startJobControlPoller(
  clients: Pick<AwsClients, 'sqs' | 'dynamodb'>,
  project: ProjectConfig,
  resources: ProvisionedResources,
  prefix: string,
): Poller {
  const queues = resources.control as NonNullable<ProvisionedResources['control']>;
  return startPoller({
    sqs: clients.sqs,
    queueUrl: queues.queue,
    handler: createJobControlHandler({
      project,
      wiring: {
        controlQueue: queues.queue,
        deadLetterQueue: queues.deadLetterQueue,
        runsTable: resources.runsTable,
        prefix,
      },
      clients: { sqs: clients.sqs, dynamodb: clients.dynamodb },
      log: () => {},
      logLevel: 'SILENT',
    }),
    batchSize: 10,
    batchingWindowSeconds: 0,
    maxConcurrency: 1,
    timeoutSeconds: 60,
    functionName: 'job-control',
    waitTimeSeconds: 1,
    onError: () => {},
  });
}
