import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { parseParams } from '../cli/commands/jobs.ts';
import type { Params } from '../config/model.ts';
import { UsageError } from '../errors.ts';
import { accessGuard, consoleToken, isLoopbackHost } from './access.ts';
import { type ConsoleAssets, consoleAssets } from './assets.ts';
import { type ConsoleActions, cliActions, type RedrivePick } from './console-actions.ts';
import { type ConsoleContext, type ConsoleTarget, openConsoleContext } from './console-context.ts';
import { errorResponse } from './http-errors.ts';
import { configView } from './views/config-view.ts';
import { connectorItems, connectorsView } from './views/connectors-view.ts';
import { deadLetters } from './views/dead-letters-view.ts';
import { flowSummaries, flowView } from './views/flow-view.ts';
import { jobsView } from './views/jobs-view.ts';
import { overview } from './views/overview.ts';
import { listRuns, runLogs, runPage } from './views/runs-view.ts';

/** The page's language from Accept-Language: Chinese for any `zh*` preferred before English. */
export function pickLanguage(acceptLanguage: string | undefined): 'zh' | 'en' {
  for (const part of (acceptLanguage ?? '').split(',')) {
    const tag = part.trim().toLowerCase();
    if (tag.startsWith('zh')) return 'zh';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

function shell(lang: 'zh' | 'en', token: string | undefined): string {
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kisflow-lang" content="${lang}">${token === undefined ? '' : `\n<meta name="kisflow-token" content="${escapeHtml(token)}">`}
<script>
// Start the first page's reads with the bundle instead of after it.
window.kisflowPrefetch = Object.fromEntries(
  ['/api/meta'].concat(/^#?/?$/.test(location.hash) ? ['/api/overview?days=7'] : []).map((p) => [
    p,
    fetch(p, { headers: { 'x-kisflow-token': document.querySelector('meta[name="kisflow-token"]')?.content ?? '' } }),
  ]),
);
</script>
<title>KisFlow console</title><link rel="stylesheet" href="/assets/console.css">
</head><body><div id="app"></div><script type="module" src="/assets/console.js"></script></body></html>`;
}

async function body(c: Context): Promise<Record<string, unknown>> {
  try {
    const value: unknown = await c.req.json();
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // An empty or non-JSON body reads as no fields.
  }
  return {};
}

function paramsOf(value: unknown): Params {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) return parseParams(value.map(String));
  if (typeof value === 'object') return value as Params;
  throw new UsageError('BAD_PARAMS', 'params must be an object or a list of k=v strings.', {});
}

function picksOf(value: unknown): RedrivePick[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new UsageError('NOTHING_SELECTED', 'Select at least one dead letter to redrive.', {});
  }
  return value.map((p) => {
    const pick = p as { step?: unknown; messageIds?: unknown };
    if (typeof pick.step !== 'number' || !Array.isArray(pick.messageIds)) {
      throw new UsageError('BAD_SELECTION', 'Each selection is { step: number, messageIds: string[] }.', {});
    }
    return { step: pick.step, messageIds: pick.messageIds.map(String) };
  });
}

/** What changes the pages: the newest runs' progress and every queue's depth. */
async function fingerprint(context: ConsoleContext): Promise<string> {
  const [runs, depths] = await Promise.all([
    context.ledger.list({ since: context.now() - 86_400_000, limit: 50 }),
    context.depths(),
  ]);
  return JSON.stringify([
    runs.map((r) => [r.id, r.status, r.batches.done]),
    depths.map((d) => [d.flowId, d.kind, d.step, d.waiting, d.inFlight]),
  ]);
}

export interface ConsoleAppOptions {
  readonly token: string;
  /** Bound to loopback only: reads need no token, Host must be a loopback name. */
  readonly loopback: boolean;
  readonly assets: ConsoleAssets;
  /** How often the event stream looks for changes. @default 2000 */
  readonly pollMs?: number;
}

/** The console's routes: the UI's shell and bundle, JSON reads under /api, actions as POSTs. */
export function createConsoleApp(
  context: ConsoleContext,
  actions: ConsoleActions,
  options: ConsoleAppOptions,
): Hono {
  const app = new Hono();
  app.use('*', accessGuard(options));
  app.onError((error, c) => {
    const { status, body: b } = errorResponse(error);
    return c.json(b, status);
  });
  app.use('/api/*', async (c, next) => {
    await next();
    c.header('cache-control', 'no-store');
  });

  app.get('/', (c) => {
    // Off loopback the page is opened with ?token=, and keeps it for its requests.
    const token = options.loopback
      ? options.token
      : c.req.query('token') === options.token
        ? options.token
        : undefined;
    if (!options.loopback && token === undefined) {
      return c.text('This console needs its token: open the URL kisflow console printed (…/?token=…).', 401);
    }
    return c.html(shell(pickLanguage(c.req.header('accept-language')), token));
  });
  app.get('/assets/console.js', (c) =>
    c.body(options.assets.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }),
  );
  app.get('/assets/console.css', (c) =>
    c.body(options.assets.css, 200, { 'content-type': 'text/css; charset=utf-8' }),
  );

  app.get('/api/meta', async (c) => {
    const loaded = await context.loaded();
    return c.json({
      source: context.source,
      prefix: context.prefix,
      dir: context.target.dir,
      flows: loaded.project ? flowSummaries(loaded.project) : [],
      configProblems: loaded.issues.length,
      jobs: loaded.project ? [...loaded.project.jobs.keys()] : [],
    });
  });
  app.get('/api/overview', async (c) => {
    const days = c.req.query('days') === '30' ? 30 : 7;
    return c.json(await overview(context, days));
  });
  app.get('/api/flows/:flow', async (c) => c.json(await flowView(context, c.req.param('flow'))));
  app.get('/api/runs', async (c) => c.json(await listRuns(context, c.req.query())));
  app.get('/api/runs/:run', async (c) => c.json(await runPage(context, c.req.param('run'))));
  app.get('/api/runs/:run/logs', (c) => c.json(runLogs(context, c.req.param('run'))));
  app.get('/api/jobs', async (c) => c.json(await jobsView(context)));
  app.get('/api/dead-letters', async (c) => {
    const project = await context.project();
    const wanted = c.req.query('flow');
    const flows = [...project.flows.values()].filter((f) => f.enabled && (!wanted || f.flowId === wanted));
    return c.json((await Promise.all(flows.map((f) => deadLetters(context, f.flowId)))).flat());
  });
  app.get('/api/connectors', async (c) => c.json(await connectorsView(context)));
  app.get('/api/connectors/:cid/items', async (c) => {
    const limit = Number(c.req.query('limit') ?? 50);
    return c.json(
      await connectorItems(context, c.req.param('cid'), {
        limit: Number.isInteger(limit) && limit > 0 && limit <= 1000 ? limit : 50,
        ...(c.req.query('key') ? { keyPrefix: c.req.query('key') as string } : {}),
        ...(c.req.query('after') ? { after: c.req.query('after') as string } : {}),
      }),
    );
  });
  app.get('/api/config', async (c) => c.json(await configView(context)));
  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let last = '';
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      while (!closed) {
        try {
          const now = await fingerprint(context);
          if (now !== last) {
            last = now;
            await stream.writeSSE({ event: 'change', data: String(Date.now()) });
          }
        } catch {
          // The stack may be restarting: the next tick tries again; the pages show the error.
        }
        await stream.sleep(options.pollMs ?? 2_000);
      }
    }),
  );

  app.post('/api/jobs/:job/trigger', async (c) => {
    const b = await body(c);
    return c.json(await actions.triggerJob(c.req.param('job'), paramsOf(b.params)));
  });
  app.post('/api/jobs/:job/pause', async (c) => c.json(await actions.pauseJob(c.req.param('job'))));
  app.post('/api/jobs/:job/resume', async (c) => c.json(await actions.resumeJob(c.req.param('job'))));
  app.post('/api/runs/:run/cancel', async (c) => {
    const b = await body(c);
    const reason = typeof b.reason === 'string' && b.reason !== '' ? b.reason : 'cancelled from the console';
    const { run, warning } = await actions.cancelRun(c.req.param('run'), reason);
    return c.json({ id: run.id, status: run.status, ...(warning === undefined ? {} : { warning }) });
  });
  app.post('/api/runs/:run/retry', async (c) => c.json(await actions.retryRun(c.req.param('run'))));
  app.post('/api/dead-letters/:flow/redrive', async (c) => {
    const b = await body(c);
    const done = await actions.redrive(c.req.param('flow'), picksOf(b.selected));
    return c.json({ moved: done.reduce((n, d) => n + d.moved, 0), steps: done });
  });
  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ error: { code: 'NOT_FOUND', message: `No route ${c.req.method} ${c.req.path}` } }, 404)
      : c.redirect('/'),
  );
  return app;
}

export interface ConsoleOptions extends ConsoleTarget {
  /** @default 8290 (0: any free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Required off loopback; generated when not given. */
  readonly token?: string;
  /** The actions' implementation. @default cliActions(context) */
  readonly actions?: (context: ConsoleContext) => ConsoleActions;
  readonly pollMs?: number;
}

export interface RunningConsole {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly loopback: boolean;
  close(): Promise<void>;
}

/**
 * Serves the console until `close()`.
 *
 * @example
 * const console = await startConsole({ dir: 'flows', root: process.cwd(), port: 8290 });
 * process.stdout.write(`${console.url}\n`);
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(host);
  const token = consoleToken(options.token);
  const assets = await consoleAssets();
  const context = openConsoleContext(options);
  // Read the runs of the chart's window now, so the first Overview does not wait for them.
  context.ledger.list({ since: Date.now() - 1 }).catch(() => {});
  const app = createConsoleApp(context, (options.actions ?? cliActions)(context), {
    token,
    loopback,
    assets,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 8290 }, () => resolve(s));
    s.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          'CONSOLE_PORT_IN_USE',
          error.code === 'EADDRINUSE'
            ? `Port ${options.port ?? 8290} on ${host} is in use: give --port <n> (0 for any free port).`
            : `Cannot listen on ${host}:${options.port ?? 8290}: ${error.message}`,
          { host, port: options.port ?? 8290 },
          { cause: error },
        ),
      ),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/${loopback ? '' : `?token=${encodeURIComponent(token)}`}`,
    host,
    port,
    token,
    loopback,
    close: () =>
      new Promise<void>((resolve) => {
        context.close();
        if ('closeAllConnections' in server)
          (server as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
