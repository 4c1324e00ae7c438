import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { DynamoRunLedger } from '../../aws/dynamodb-run-ledger.ts';
import { eventIdentity, putRowEvents } from '../../aws/event-bridge.ts';
import { SqsTransport } from '../../aws/sqs-transport.ts';
import { resourceNames } from '../../config/names.ts';
import { UsageError } from '../../errors.ts';
import type { Destination, StepBatch } from '../../ports.ts';
import { SEND_AS } from '../../sources/events-from-rows.ts';
import { destinationQueue } from '../../wire/destination.ts';
import { type DeploymentOptions, deploymentOptions, openDeployment } from '../deployment-options.ts';
import { readJsonLines } from '../jsonl.ts';
import { sendAsSource } from './send-as-source.ts';

interface SendOptions extends DeploymentOptions {
  input: string;
  via: string;
  as?: string;
}

/**
 * `kisflow send <flow_id> --input rows.jsonl`: feeds rows to a running flow (a `kisflow dev`
 * stack, LocalStack, or AWS) — packed into the first step's queue, or as events on the flow's
 * event bus with `--via eventbridge`, or (`--as kafka`, ...) as a source's records through the
 * first step's source handler, run here against the stack's queues and tables.
 */
export function register(program: Command): void {
  deploymentOptions(program.command('send'))
    .description(
      "feed JSON Lines rows to a running flow: packed into its first queue (--via sqs), or as events on the flow's source.event_bus (--via eventbridge)",
    )
    .argument('<flow_id>', 'the flow to feed')
    .option('-i, --input <file>', 'rows as JSON Lines, - for stdin', '-')
    .option('--via <channel>', 'sqs or eventbridge', 'sqs')
    .option(
      '--as <source>',
      `run the input through the first step's source handler as ${SEND_AS.join(', ')} records: rows, or a recorded event in AWS's shape (a .json file with Records/records)`,
    )
    .action(async (flowId: string, opts: SendOptions) => {
      if (opts.as !== undefined) {
        await sendAsSource(flowId, opts.as, opts);
        return;
      }
      if (opts.via !== 'sqs' && opts.via !== 'eventbridge') {
        throw new UsageError('BAD_OPTION', `--via must be sqs or eventbridge, received "${opts.via}"`);
      }
      const { rows, malformed } = await readJsonLines(opts.input);
      if (malformed.length > 0) {
        const shown = malformed
          .slice(0, 5)
          .map((m) => `${opts.input}:${m.line}: ${m.reason}`)
          .join('\n');
        throw new UsageError(
          'MALFORMED_INPUT',
          `${malformed.length} input line(s) are not JSON objects; nothing was sent:\n${shown}${malformed.length > 5 ? '\n…' : ''}`,
          { lines: malformed.map((m) => m.line) },
        );
      }
      const deployment = await openDeployment(flowId, opts);
      try {
        const { flow, queues } = deployment;
        if (opts.via === 'eventbridge') {
          const pattern = flow.source?.eventPattern;
          const { source, detailType } = pattern === undefined ? {} : eventIdentity(pattern);
          if (source === undefined || detailType === undefined) {
            throw new UsageError(
              'NO_EVENT_SOURCE',
              `Flow '${flowId}' has no source.event_pattern with a source and a detail-type, so events cannot reach it. Add one, or use --via sqs.`,
              { flowId },
            );
          }
          const put = await putRowEvents(deployment.clients.eventbridge, {
            ...(flow.source?.eventBus === undefined ? {} : { eventBus: flow.source.eventBus }),
            source,
            detailType,
            rows,
          });
          process.stdout.write(
            `${flowId}: put ${put} event(s) (source ${source}, detail-type ${detailType}) on bus ${flow.source?.eventBus ?? 'default'}\n`,
          );
          return;
        }
        const queueUrl = (to: Destination): string => {
          const url = destinationQueue({ ...queues, deadLetterQueues: queues.stepDeadLetterQueues }, to);
          if (url === undefined)
            throw new UsageError('NOT_DEPLOYED', `flow '${flowId}' has no queue for ${to.kind}`);
          return url;
        };
        const transport = new SqsTransport({
          sqs: deployment.clients.sqs,
          queueUrl,
          maxMessageBytes: flow.tuning.maxMessageBytes,
          fidOf: (_, step) => flow.steps[step]?.fid,
          orderingOf: () => flow.tuning.ordering,
        });
        const runId = `send-${randomUUID()}`;
        const batch: StepBatch = { flowId, step: 0, runId, batchId: runId, rows, meta: {} };
        // Started before the first message leaves, with as many roots as messages the rows pack
        // into, so the run completes exactly when its last batch is done.
        const ledger = new DynamoRunLedger({
          dynamodb: deployment.clients.dynamodb,
          tableName: resourceNames(deployment.prefix).runsTable(),
        });
        let recorded = true;
        try {
          const roots = transport.messageCount(batch);
          await ledger.start({ runId, flowId, trigger: 'api', roots });
        } catch (err) {
          // An older deployment without a runs table still gets its rows.
          recorded = false;
          process.stderr.write(`${flowId}: run ${runId} is not recorded: ${(err as Error).message}\n`);
        }
        await transport.send({ kind: 'step', flowId, step: 0 }, batch);
        const { stats } = transport;
        const oversize =
          stats.deadLetters > 0
            ? `; ${stats.deadLetters} dead letter(s) for rows too large (see kisflow dlq ${flowId})`
            : '';
        process.stdout.write(
          `${flowId}: sent ${rows.length} row(s) to step 0 (${flow.steps[0]?.fid}) in ${stats.messages} message(s), ${stats.requests} request(s); run ${runId}${recorded ? '' : ' (not recorded)'}${oversize}\n`,
        );
      } finally {
        deployment.close();
      }
    });
}
