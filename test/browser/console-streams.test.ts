/**
 * The console's Overview in a real browser shows a Kinesis-fed flow's throughput and lag: the
 * flow runs under an in-process `kisflow dev` (kinesalite, fauxqs, dynalite) with Prometheus on,
 * and `kisflow console` reads the same stream buckets and iterator age `kisflow runs stats` does.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../../kisflow/console/server.ts';
import { type DevStack, startDevStack } from '../../kisflow/local/dev-stack.ts';
import { createKinesisClient } from '../../kisflow/local/kinesis-client.ts';
import { makeProject } from '../integration/dev/dev-process.ts';
import { FIXTURE_ROOT } from '../integration/runtime/harness.ts';
import { launchChromium } from './chromium.ts';

// Inside the repository, so the functions' `import 'kisflow'` resolves (dev-process.ts).
const project = makeProject({});
const root = project.root;
let stack: DevStack | undefined;
let running: RunningConsole | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await running?.close();
  await stack?.stop();
  project.remove();
});

describe('console Overview: streams', () => {
  it("shows a Kinesis-fed flow's rows per minute and its iterator age", async () => {
    cpSync(join(FIXTURE_ROOT, 'functions'), join(root, 'functions'), { recursive: true });
    mkdirSync(join(root, 'flows'));
    writeFileSync(
      join(root, 'flows', 'runtime.yml'),
      readFileSync(join(FIXTURE_ROOT, 'flows', 'runtime.yml'), 'utf8')
        .replace('prometheus_enable: false\n', 'prometheus_enable: true\nprometheus_serve: "127.0.0.1:0"\n')
        .replace(
          'flow_id: flaky\n',
          'flow_id: flaky\nsource:\n  kinesis: { stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/console-feed", starting_position: trim_horizon }\n',
        ),
    );
    stack = await startDevStack({
      dir: 'flows',
      root,
      isolation: 'in-process',
      logLevel: 'SILENT',
      kinesisIdlePollMs: 50,
    });
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    try {
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: 'console-feed',
          Records: [0, 1, 2].map((i) => ({
            Data: Buffer.from(JSON.stringify({ i })),
            PartitionKey: `k${i}`,
          })),
        }),
      );
    } finally {
      kinesis.destroy();
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = Date.now();
      const buckets = await stack.ledger.streamBuckets({
        flowId: 'flaky',
        granularity: 'hour',
        since: now - 3_600_000,
        until: now + 60_000,
      });
      if (buckets.filter((b) => b.step === 1).reduce((n, b) => n + b.in, 0) === 3) break;
      if (Date.now() > deadline)
        throw new Error(`the 3 records were not counted: ${JSON.stringify(buckets)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    running = await startConsole({ dir: join(root, 'flows'), root, port: 0 });
    browser = await launchChromium();
    const page = await browser.newPage({ locale: 'en-US' });
    await page.goto(`${running.url}#/`);
    await page.waitForSelector('[data-testid="streams"] tbody tr');
    const rows = await page.locator('[data-testid="streams"] tbody tr').allInnerTexts();
    // 3 rows over the 15-minute window; the poller has caught up, so the age is small.
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^flaky\s+kinesis\s+0\.2\s+\d+(ms|\.\ds)$/);
  }, 120_000);
});
