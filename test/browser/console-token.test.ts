/**
 * The console off loopback (every request needs the token) and the Config page's located errors,
 * neither of which needs a running stack: both read only the YAML and the token.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../../kisflow/console/server.ts';
import { launchChromium } from './chromium.ts';

const REPO = join(import.meta.dirname, '..', '..');
let browser: Browser;
let open: RunningConsole;
let broken: RunningConsole;
let brokenRoot: string;

beforeAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  brokenRoot = mkdtempSync(join(tmpdir(), 'kisflow-console-config-'));
  writeFileSync(
    join(brokenRoot, 'app.yml'),
    'kistype: func\nfid: a\nfmode: Calculate\n---\nkistype: flow\nflow_id: f\nflows:\n  - fid: a\n  - fid: missing_fn\n',
  );
  // 0.0.0.0 listens on every interface; the requests below go to 127.0.0.1 only.
  [browser, open, broken] = await Promise.all([
    launchChromium(),
    startConsole({ dir: join(REPO, 'flows'), root: REPO, host: '0.0.0.0', port: 0 }),
    startConsole({ dir: brokenRoot, root: brokenRoot, port: 0 }),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await open?.close();
  await broken?.close();
  rmSync(brokenRoot, { recursive: true, force: true });
});

describe('kisflow console off loopback', () => {
  it('generates a token, and refuses every action and every read without it', async () => {
    expect(open.loopback).toBe(false);
    expect(open.token.length).toBeGreaterThanOrEqual(24);
    const base = `http://127.0.0.1:${open.port}`;
    const post = await fetch(`${base}/api/jobs/nightly_shipment_recheck/trigger`, {
      method: 'POST',
      body: '{}',
    });
    expect(post.status).toBe(401);
    expect((await fetch(`${base}/api/runs/x/cancel?token=${open.token}`, { method: 'POST' })).status).toBe(
      401,
    );
    expect((await fetch(`${base}/api/config`)).status).toBe(401);
    expect((await fetch(`${base}/`)).status).toBe(401);
    const read = await fetch(`${base}/api/config`, { headers: { 'x-kisflow-token': open.token } });
    expect(read.status).toBe(200);
  });

  it('serves the page opened with the printed URL (…/?token=…), which then reads with the token', async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url.replace('0.0.0.0', '127.0.0.1')}#/config`);
    await page.waitForSelector('[data-testid="no-problems"]');
    expect(await page.locator('[data-testid^="file-flows/"]').count()).toBeGreaterThanOrEqual(5);
    await page.close();
  });
});

describe('Config page', () => {
  it("shows kisflow validate's problems at their file and line", async () => {
    const page = await browser.newPage();
    await page.goto(`${broken.url}#/config`);
    await page.waitForSelector('[data-testid="problems"]');
    const problems = await page.locator('[data-testid="problems"] li').allInnerTexts();
    expect(problems.some((p) => /^app\.yml:9:10 .*missing_fn.*no func document/.test(p))).toBe(true);
    const inPlace = page.locator('[data-testid="file-app.yml"] [data-testid="issue-in-place"]');
    // Under the line it is about, the caret at its column.
    expect(await inPlace.allInnerTexts()).toContain(
      `${' '.repeat(9 + 5)}^ flow "f" step 2 uses function "missing_fn", which has no func document`,
    );
    expect(await page.locator('[data-testid="file-app.yml"] .line.bad').allInnerTexts()).toContainEqual(
      expect.stringContaining('- fid: missing_fn'),
    );
    await page.close();
  });
});
