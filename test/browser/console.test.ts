/**
 * The console in a real browser (Debian's chromium driven by playwright-core) over a real
 * `kisflow dev` running the example flows: every page shows the stack's data, and its actions do
 * what the CLI does.
 */
import { request } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kisflow } from '../integration/dev/dev-process.ts';
import { launchChromium } from './chromium.ts';
import { type ConsoleStack, startConsoleStack } from './console-stack.ts';

let stack: ConsoleStack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startConsoleStack(), launchChromium()]);
  page = await browser.newPage({ locale: 'en-US', viewport: { width: 1400, height: 900 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const open = async (hash: string) => {
  await page.goto(`${stack.console.url}#${hash}`);
};
const text = (selector: string) => page.locator(selector).first().innerText();
/** SVG nodes have no innerText. */
const svgText = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';

/** A GET with a Host header of our choosing (fetch always sends the real one). */
function getWithHost(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

describe('kisflow console in a browser', () => {
  it('Overview: flows, jobs, runs of the last 24 h, the daily chart, rows per step, dead letters', async () => {
    await open('/');
    await page.waitForSelector('[data-testid="card-flows"]');
    expect(await text('[data-testid="card-flows"] .card-value')).toBe('3');
    expect(await text('[data-testid="card-jobs"] .card-value')).toBe('1');
    expect(await text('[data-testid="card-runs"] .card-value')).toBe('3');
    // The samples hold one bad row per flow: each run is partial, each leaves a dead letter.
    expect(await text('[data-testid="card-success-24h"] .card-value')).toBe('0.0%');
    expect(await text('[data-testid="card-dead-letters"] .card-value')).toBe('3');
    expect(await page.locator('[data-testid="day-chart"] canvas').count()).toBe(1);
    await page.click('[data-testid="days-30"]');
    await page.waitForSelector('[data-testid="days-30"].on');
    const rows = await page.locator('section table tbody tr').allInnerTexts();
    expect(rows.some((r) => /order_intake\s+0\s+verify_order\s+5\s+4\s+1/.test(r))).toBe(true);
  });

  it('Flow: the steps in order with their modes, the connectors joining other flows, live counts', async () => {
    await open('/flows/payment_settlement');
    await page.waitForSelector('[data-testid="flow-graph"]');
    expect(await page.locator('[data-testid="flow-graph"] [data-testid^="step-"]').count()).toBe(5);
    expect(await svgText('[data-testid="step-1"]')).toContain('1. load_order');
    expect(await svgText('[data-testid="step-1"]')).toContain('DLQ 1');
    expect(await svgText('[data-testid="step-1"]')).toMatch(/In 5 · Out 4 · Rejected 1/);
    expect(await svgText('[data-testid="conn-orders"]')).toContain('order_intake (save_order)');
    expect(await svgText('[data-testid="conn-payments"]')).toContain('shipment_tracking (load_payment)');
    const step0 = await page.locator('[data-testid="flow-steps"] tbody tr').first().innerText();
    expect(step0).toMatch(/0\s+verify_payment\s+V\s+—\s+5\s+5\s+0/);
  });

  it('Flow: each step shows the age of its oldest message (fauxqs) and its p95 (the run ledger), with units and sources', async () => {
    // The step p95 the ledger recorded, the largest over the flow's runs (what the tooltip says).
    const runs = await stack.api<{ id: string }[]>('/api/runs?since=24h&flow=payment_settlement');
    expect(runs.length).toBeGreaterThan(0);
    const expected = new Map<number, number>();
    for (const { id } of runs) {
      const { run } = await stack.api<{
        run: { steps: { index: number; timings: { p95_ms: number } | null }[] };
      }>(`/api/runs/${encodeURIComponent(id)}`);
      for (const s of run.steps) {
        if (s.timings) expected.set(s.index, Math.max(expected.get(s.index) ?? 0, s.timings.p95_ms));
      }
    }
    expect(expected.size).toBe(5);
    await open('/flows/payment_settlement');
    const age = page.locator('[data-testid="oldest-age-1"]');
    const p95 = page.locator('[data-testid="p95-1"]');
    // Live figures: poll until the page shows them (the first read may still be on its way).
    await expect
      .poll(async () => ((await age.count()) > 0 ? age.innerText() : ''), { timeout: 15_000 })
      .toMatch(/^\d+(\.\d+)? (ms|s|min)$/);
    // Every row has been through: the queue is empty now, which fauxqs reads as 0 (not unknown).
    expect(await age.innerText()).toBe('0 ms');
    expect(await age.getAttribute('data-note')).toBe('ageFauxqs');
    expect(await age.getAttribute('title')).toContain('fauxqs');
    expect(await p95.getAttribute('data-note')).toBe('p95Ledger');
    expect(await p95.innerText()).toBe(`${expected.get(1)} ms`);
    expect(expected.get(1)).toBeGreaterThan(0);
    expect(await p95.getAttribute('title')).toContain(`runs: ${runs.length}`);
    // The graph's nodes carry the same figures (each with its source as an SVG title).
    const node = await svgText('[data-testid="step-1"]');
    expect(node).toContain(`p95 ${expected.get(1)} ms`);
    expect(node).toContain('fauxqs queue inspection); 0 when the queue is empty.Oldest 0 ms');
    const view = await stack.api<{ steps: { p95Ms: number | null; oldestAgeMs: number | null }[] }>(
      '/api/flows/payment_settlement',
    );
    expect(view.steps.map((s) => s.p95Ms)).toEqual([0, 1, 2, 3, 4].map((i) => expected.get(i)));
    expect(view.steps.every((s) => s.oldestAgeMs === 0)).toBe(true);
  });

  it('Runs: the list filters by flow; a run page shows its counters and its rejected rows', async () => {
    await open('/runs');
    await page.waitForSelector('[data-testid="runs-table"]');
    expect(await page.locator('[data-testid="runs-table"] tbody tr').count()).toBe(3);
    await page.selectOption('[data-testid="filter-flow"]', 'order_intake');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="runs-table"] tbody tr').length === 1,
    );
    await page.click('[data-testid="runs-table"] tbody tr a');
    await page.waitForSelector('[data-testid="run-steps"]');
    expect(await text('[data-testid="run-status"]')).toBe('partial');
    expect(await page.locator('[data-testid="run-steps"] tbody tr').count()).toBe(4);
    // Every step ran batches: each has its span on the run's timeline.
    expect(await page.locator('[data-testid="run-steps"] [data-testid^="timeline-"]').count()).toBe(4);
    expect(await text('[data-testid="page-run"]')).toContain('MISSING_FIELD');
    // The dev stack keeps its run log: the panel reads it (lines, or none), not the AWS pointer.
    await page.waitForSelector('[data-testid="run-logs"] :is(pre, p.muted)');
    expect(await text('[data-testid="run-logs"]')).not.toContain('kisflow runs logs');
  });

  it('Jobs: next five fires; trigger now with params, and the run reaches succeeded on the Runs page', async () => {
    await open('/jobs');
    const job = page.locator('[data-testid="job-nightly_shipment_recheck"]');
    await job.waitFor();
    expect(await job.locator('[data-testid="next-fires"] li').count()).toBe(5);
    expect(await job.locator('[data-testid="next-fires"] li').first().innerText()).toMatch(
      /^\d{4}-\d\d-\d\dT02:00:00\+0[12]:00$/,
    );
    await job.locator('[data-testid="trigger-params"]').fill('day=2026-12-01\nattempt=2');
    await job.locator('[data-testid="trigger"]').click();
    const link = job.locator('[data-testid="triggered"] a');
    await link.waitFor();
    const runId = await link.innerText();
    expect(runId).toMatch(/^manual-/);
    await open('/runs');
    const row = page.locator(`[data-testid="runs-table"] tr[data-run="${runId}"]`);
    await row.locator('[data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await row.locator('a').click();
    await page.waitForSelector('[data-testid="run-steps"]');
    expect(await text('[data-testid="page-run"]')).toContain('"day":"2026-12-01","attempt":2');
  });

  it('Jobs: pause and resume from the page show in `kisflow jobs list`', async () => {
    const listed = async () => {
      const out = await kisflow(stack.root, ['jobs', 'list', '--json']);
      // One JSON object per line, one line per job.
      const jobs = out.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { job: string; state: string; reason?: string });
      return jobs.find((j) => j.job === 'nightly_shipment_recheck');
    };
    await open('/jobs');
    const job = page.locator('[data-testid="job-nightly_shipment_recheck"]');
    await job.locator('[data-testid="pause"]').click();
    await job.locator('.panel-head [data-status="paused"]').waitFor();
    expect(await listed()).toMatchObject({ state: 'paused', reason: 'paused from the console' });
    expect(await job.locator('[data-testid="next-fires"] li').count()).toBe(0);
    await job.locator('[data-testid="resume"]').click();
    await job.locator('.panel-head [data-status="enabled"]').waitFor();
    expect(await listed()).toMatchObject({ state: 'enabled' });
  });

  it('Dead letters: the poison row is listed with its reason; redriving it moves it', async () => {
    await open('/dead-letters');
    await page.waitForSelector('[data-testid="dead-letters-table"]');
    const poison = page.locator('[data-testid="dead-letters-table"] tbody tr', { hasText: 'MISSING_FIELD' });
    expect(await poison.count()).toBe(1);
    expect(await poison.innerText()).toContain('o-1004');
    const messageId = (await poison.getAttribute('data-message')) as string;
    const others = await page.locator('[data-testid="dead-letters-table"] tbody tr').count();
    await poison.locator('[data-testid="pick"]').check();
    await page.click('[data-testid="redrive"]');
    expect(await page.locator('[data-testid="redrive-result"]').innerText()).toMatch(/^1 dead letter/);
    // Sent back to verify_order, which rejects it again: a new dead letter, the old one gone,
    // and the dead letters not picked stay where they were.
    await page.waitForFunction(
      (id) => {
        const rows = Array.from(document.querySelectorAll('[data-testid="dead-letters-table"] tbody tr'));
        return rows.length > 0 && !rows.some((r) => r.getAttribute('data-message') === id);
      },
      messageId,
      { timeout: 20_000 },
    );
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="dead-letters-table"] tbody tr').length === n,
      others,
      { timeout: 20_000 },
    );
  });

  it('Connectors: browse what Save stored, by key', async () => {
    await open('/connectors');
    await page.click('[data-testid="browse-orders"]');
    const items = page.locator('[data-testid="items-orders"]');
    await items.locator('tr[data-key="o-1001"]').waitFor();
    await items.locator('[data-testid="key-prefix"]').fill('o-1002');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="items-orders"] tbody tr').length === 1,
    );
    expect(await items.locator('tbody tr').innerText()).toContain('o-1002');
  });

  it('Config: the YAML as loaded, no problems, the functions and jobs', async () => {
    await open('/config');
    await page.waitForSelector('[data-testid="no-problems"]');
    expect(await page.locator('[data-testid^="file-flows/"]').count()).toBeGreaterThanOrEqual(5);
    expect(await text('[data-testid="page-config"]')).toContain('nightly_shipment_recheck');
  });

  it('Language: English for an English browser, Chinese at the switch and for a Chinese browser', async () => {
    await open('/');
    expect(await text('[data-testid="nav-overview"]')).toBe('Overview');
    await page.click('[data-testid="lang-switch"]');
    expect(await text('[data-testid="nav-overview"]')).toBe('概览');
    expect(await text('[data-testid="nav-deadLetters"]')).toBe('死信');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await page.click('[data-testid="lang-switch"]');
    expect(await text('[data-testid="nav-overview"]')).toBe('Overview');
    const zh = await browser.newPage({
      locale: 'zh-CN',
      extraHTTPHeaders: { 'accept-language': 'zh-CN,zh;q=0.9' },
    });
    await zh.goto(stack.console.url);
    expect(await zh.locator('[data-testid="nav-runs"]').innerText()).toBe('运行');
    await zh.close();
  });

  it('Actions need the token even on loopback; a request naming another host is refused', async () => {
    const base = `http://127.0.0.1:${stack.console.port}`;
    const bare = await fetch(`${base}/api/runs/nope/cancel`, { method: 'POST' });
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error: { code: string } }).error.code).toBe('TOKEN_REQUIRED');
    const wrong = await fetch(`${base}/api/runs/nope/cancel`, {
      method: 'POST',
      headers: { 'x-kisflow-token': 'x' },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${base}/api/runs/nope/cancel`, {
      method: 'POST',
      headers: { 'x-kisflow-token': stack.console.token },
    });
    expect(right.status).toBe(404);
    expect(await getWithHost(stack.console.port, '/api/overview', 'attacker.example:8290')).toBe(403);
    expect(await getWithHost(stack.console.port, '/api/overview', `localhost:${stack.console.port}`)).toBe(
      200,
    );
  });
});
