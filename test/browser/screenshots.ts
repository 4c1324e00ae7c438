/**
 * `npm run screenshots`: docs/console/*.png, each page of the console over a `kisflow dev` of the
 * example flows (its samples sent, the job triggered once). Chinese text needs a CJK font
 * (`apt-get install -y fonts-wqy-zenhei`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './chromium.ts';
import { startConsoleStack } from './console-stack.ts';

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'console');
mkdirSync(OUT, { recursive: true });

const stack = await startConsoleStack();
const browser = await launchChromium();
try {
  const job = await fetch(
    `http://127.0.0.1:${stack.console.port}/api/jobs/nightly_shipment_recheck/trigger`,
    {
      method: 'POST',
      headers: { 'x-kisflow-token': stack.console.token, 'content-type': 'application/json' },
      body: JSON.stringify({ params: ['day=2026-12-01'] }),
    },
  );
  const { runId } = (await job.json()) as { runId: string };
  await stack.settled(4);
  const shoot = async (
    name: string,
    hash: string,
    locale = 'en-US',
    ready = 'main section',
    act?: (page: import('playwright-core').Page) => Promise<void>,
  ) => {
    const page = await browser.newPage({
      locale,
      viewport: { width: 1360, height: 860 },
      extraHTTPHeaders: { 'accept-language': locale },
    });
    await page.goto(`${stack.console.url}#${hash}`);
    await page.waitForSelector(ready);
    await act?.(page);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
    await page.close();
    process.stdout.write(`docs/console/${name}.png\n`);
  };
  await shoot('overview', '/', 'en-US', '[data-testid="day-chart"] canvas');
  await shoot('overview-zh', '/', 'zh-CN', '[data-testid="day-chart"] canvas');
  await shoot('flow', '/flows/payment_settlement', 'en-US', '[data-testid="flow-graph"]');
  await shoot('runs', '/runs', 'en-US', '[data-testid="runs-table"]');
  await shoot('run', `/runs/${encodeURIComponent(runId)}`, 'en-US', '[data-testid="run-steps"]');
  await shoot('jobs', '/jobs', 'en-US', '[data-testid="next-fires"] li');
  await shoot('dead-letters', '/dead-letters', 'en-US', '[data-testid="dead-letters-table"]');
  await shoot('connectors', '/connectors', 'en-US', '[data-testid="browse-orders"]', async (page) => {
    await page.click('[data-testid="browse-orders"]');
    await page.waitForSelector('[data-testid="items-orders"] tbody tr');
  });
  await shoot('config', '/config', 'en-US', '[data-testid="no-problems"]');
} finally {
  await browser.close();
  await stack.close();
}
