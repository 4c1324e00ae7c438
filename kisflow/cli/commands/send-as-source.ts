import { readFileSync } from 'node:fs';
import { loadProject } from '../../config/index.ts';
import type { ProjectConfig } from '../../config/model.ts';
import { loadFunctions } from '../../engine/load-functions.ts';
import { InfrastructureError, UsageError } from '../../errors.ts';
import { createSourceHandler } from '../../lambda/source-handler.ts';
import { connectorImplementations, devWiring } from '../../local/dev-stack.ts';
import { locateResources } from '../../local/provision.ts';
import { MemoryMetrics } from '../../memory/metrics.ts';
import { eventFromRows, SEND_AS, type SendAs } from '../../sources/events-from-rows.ts';
import {
  type SourceDecoding,
  type SourceEvent,
  sourceDecoding,
  sourceEventKind,
} from '../../sources/source-event.ts';
import type { SourceEventKind } from '../../sources/source-record.ts';
import { openFlowDeployment } from '../deployment.ts';
import type { DeploymentOptions } from '../deployment-options.ts';
import { readJsonLines } from '../jsonl.ts';

const KIND_OF: Readonly<Record<SendAs, SourceEventKind>> = {
  kinesis: 'kinesis',
  dms: 'kinesis',
  kafka: 'kafka',
  debezium: 'kafka',
  dynamodb_stream: 'dynamodb_stream',
};

/**
 * `kisflow send <flow> --as kafka|kinesis|dynamodb_stream|dms|debezium`: a source's records where
 * no broker or stream runs (Kafka has no local one): the input, rows or a recorded event in AWS's
 * shape, goes through the first step's source handler here, decoded as the mapping's records
 * would be, and the step's output into the running stack's queues (`kisflow dev`), which carry it
 * through the rest of the flow.
 */
export async function sendAsSource(
  flowId: string,
  as: string,
  opts: DeploymentOptions & { input: string },
): Promise<void> {
  if (!(SEND_AS as readonly string[]).includes(as)) {
    throw new UsageError('BAD_OPTION', `--as must be one of ${SEND_AS.join(', ')}, received "${as}"`);
  }
  const kind = KIND_OF[as as SendAs];
  const event = await readEvent(as as SendAs, kind, opts.input);
  const project = await loadProject(opts.dir);
  const deployment = await openFlowDeployment(project, {
    flowId,
    root: process.cwd(),
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
  });
  try {
    const { flow, clients } = deployment;
    const resources = await locateResources(project, clients.sqs, {
      prefix: deployment.prefix,
      flowIds: [flowId],
    });
    const registry = await loadFunctions(project, { flowIds: [flowId] });
    const fid = flow.steps[0]?.fid as string;
    const metrics = new MemoryMetrics();
    const handler = createSourceHandler({
      project,
      flowId,
      fn: registry.getFunction(fid),
      connectors: connectorImplementations(project, registry),
      wiring: devWiring(project, flow, 0, resources),
      clients,
      metrics,
      logLevel: 'SILENT',
      decoding: decodingFor(as as SendAs, project, flowId),
    });
    const records = countRecords(event);
    let failed: number;
    try {
      failed = (await handler(event)).batchItemFailures.length;
    } catch (error) {
      // A Kafka batch with a failed record throws for Lambda to retry it whole.
      if (!(error instanceof InfrastructureError) || error.code !== 'SOURCE_BATCH_RETRY') throw error;
      failed = ((error.context.failed as unknown[]) ?? []).length;
    }
    const dead = metrics.counter('source_records_dead_lettered') + metrics.counter('messages_dead_lettered');
    const skipped = metrics.counter('source_records_skipped');
    process.stdout.write(
      `${flowId}: ${records} ${as} record(s) through step 0 (${fid}): ${metrics.counter('rows_in')} row(s) in, ${metrics.counter('rows_out')} out, ${metrics.counter('rows_rejected')} rejected; ${dead} record(s) dead-lettered${dead > 0 ? ` (kisflow dlq ${flowId})` : ''}, ${skipped} skipped on purpose, ${failed} failed\n`,
    );
    if (failed > 0) {
      throw new InfrastructureError(
        'SOURCE_RECORDS_FAILED',
        `${failed} record(s) failed in step 0 and were not applied; send the same input again (records already done are not applied twice).`,
        { flowId, failed },
      );
    }
  } finally {
    deployment.close();
  }
}

function decodingFor(as: SendAs, project: ProjectConfig, flowId: string): SourceDecoding {
  const own = sourceDecoding(project.flows.get(flowId)?.source);
  return {
    ...own,
    // `--as kafka` / `--as kinesis` decode as the flow's own source does; dms and debezium say it.
    ...(as === 'dms' ? { kinesisFormat: 'dms' as const } : {}),
    ...(as === 'debezium' ? { kafkaFormat: 'debezium' as const } : {}),
  };
}

/** A recorded event (one JSON document with `Records`/`records`), else JSON Lines rows made into one. */
async function readEvent(as: SendAs, kind: SourceEventKind, input: string): Promise<SourceEvent> {
  if (input !== '-') {
    const text = readFileSync(input, 'utf8');
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      document = undefined;
    }
    const recorded = document as { Records?: unknown; records?: unknown } | undefined;
    if (recorded !== undefined && (recorded.Records !== undefined || recorded.records !== undefined)) {
      const found = sourceEventKind(document);
      if (found !== kind) {
        throw new UsageError(
          'EVENT_KIND_MISMATCH',
          `${input} is ${found === undefined ? 'no source event Lambda sends' : `a ${found} event`}, but --as ${as} expects a ${kind} event (AWS's shape, as the recorded events under test/fixtures/sources/).`,
          { input, as, found },
        );
      }
      return document as SourceEvent;
    }
  }
  const { rows, malformed } = await readJsonLines(input);
  if (malformed.length > 0) {
    const shown = malformed
      .slice(0, 5)
      .map((m) => `${input}:${m.line}: ${m.reason}`)
      .join('\n');
    throw new UsageError(
      'MALFORMED_INPUT',
      `${malformed.length} input line(s) are not JSON objects, and the input is no recorded event; nothing was sent:\n${shown}`,
      { lines: malformed.map((m) => m.line) },
    );
  }
  return eventFromRows(as, rows);
}

function countRecords(event: SourceEvent): number {
  const e = event as { Records?: unknown[]; records?: Record<string, unknown[]> };
  return e.Records?.length ?? Object.values(e.records ?? {}).reduce((n, list) => n + list.length, 0);
}
