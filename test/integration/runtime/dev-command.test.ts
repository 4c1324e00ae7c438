import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import { devEndpointsFile } from '../../../kisflow/local/dev-endpoints.ts';
import { locateResources, type ProvisionedResources } from '../../../kisflow/local/provision.ts';
import { FIXTURE_ROOT, Sink, sendRows, waitFor } from './harness.ts';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'kisflow.js');
const READY =
  /^kisflow dev ready: sqs=(http:\/\/127\.0\.0\.1:\d+) dynamodb=(http:\/\/127\.0\.0\.1:\d+) flows=mini metrics=(http:\/\/127\.0\.0\.1:\d+\/metrics)$/;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('kisflow dev (command)', () => {
  it('prints one ready line, runs the flow, serves metrics, and stops cleanly on SIGINT', async () => {
    // The CLI's own environment: never an endpoint from the test runner's.
    const env = { ...process.env };
    delete env.AWS_ENDPOINT_URL;
    const child = spawn(
      process.execPath,
      [BIN, 'dev', '--dir', 'metrics-flows', '--prefix', 'rt-cli', '--fresh', '--no-watch'],
      {
        cwd: FIXTURE_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(`the ready line (stderr: ${stderr})`, () => stdout.includes('\n'), 30_000);
    const match = READY.exec(stdout.trim());
    expect(match, stdout).not.toBeNull();
    const [, sqsEndpoint, dynamodbEndpoint, metricsUrl] = match as unknown as [
      string,
      string,
      string,
      string,
    ];

    const dev = JSON.parse(readFileSync(devEndpointsFile(FIXTURE_ROOT), 'utf8'));
    expect(dev).toEqual({
      sqsEndpoint,
      dynamodbEndpoint,
      kinesisEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      prefix: 'rt-cli',
      pid: child.pid,
      runsTable: 'rt-cli-runs',
      metricsUrl,
      lagFile: join(FIXTURE_ROOT, '.kisflow', 'dev-lag.json'),
    });

    const clients = createAwsClients({ sqsEndpoint, dynamodbEndpoint });
    cleanups.push(() => destroyAwsClients(clients));
    const project = await loadProject(join(FIXTURE_ROOT, 'metrics-flows'), { root: FIXTURE_ROOT });
    const resources: ProvisionedResources = await locateResources(project, clients.sqs, { prefix: 'rt-cli' });
    const sink = new Sink(clients.sqs, resources, ['mini']);
    cleanups.push(() => sink.stop());
    await sendRows(clients.sqs, resources, 'mini', 'cli-1', [
      { tx_id: 'cli-1', user_id: 'u', amount: 1 },
      { tx_id: 'cli-2', user_id: 'u' },
    ]);
    await waitFor('the output row and the rejected row', () => {
      return sink.outputRows('mini', 'cli-').length === 1 && sink.deadRows('mini', 'cli-').length === 1;
    });
    expect(sink.deadRows('mini', 'cli-')[0]).toMatchObject({ code: 'MISSING_FIELD', step: 0 });

    const text = await (await fetch(metricsUrl)).text();
    expect(text).toContain('kisflow_rows_in_total{flow="mini",step="0.verify_tx"} 2');
    expect(text).toContain('kisflow_rows_rejected_total{flow="mini",step="0.verify_tx"} 1');
    expect(text).toContain('kisflow_rows_out_total{flow="mini",step="1.publish_tx"} 1');

    await sink.stop();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(existsSync(devEndpointsFile(FIXTURE_ROOT))).toBe(false);
  }, 60_000);

  it('reports a broken project without a stack trace, exit code 1', async () => {
    const child = spawn(process.execPath, [BIN, 'dev', '--dir', 'no-such-dir'], {
      cwd: FIXTURE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/no-such-dir/);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
