import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../errors.ts';

/** Anything that renders the Prometheus text exposition format (MemoryMetrics does). */
export interface PrometheusSource {
  renderPrometheus(): string;
}

/** Several sources served as one `/metrics` page (each renders whole metric families). */
export function joinPrometheusSources(...sources: readonly PrometheusSource[]): PrometheusSource {
  return { renderPrometheus: () => sources.map((s) => s.renderPrometheus()).join('') };
}

export interface PrometheusServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Serves `GET /metrics` as Prometheus text (KisFlow's `prometheus_serve`), for `kisflow dev`.
 *
 * @param listen `host:port` (`:port` and a bare port mean 127.0.0.1; port 0 picks a free one).
 * @throws UsageError when the address is malformed or already in use.
 * @example
 * const server = await startPrometheusServer('127.0.0.1:20004', metrics);
 * // curl http://127.0.0.1:20004/metrics
 */
export async function startPrometheusServer(
  listen: string,
  source: PrometheusSource,
): Promise<PrometheusServer> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = source.renderPrometheus();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scrape keeps its connection open; without this, stop() would wait for the scraper to leave.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL'
          ? new UsageError(
              'PROMETHEUS_LISTEN_FAILED',
              `Cannot serve Prometheus metrics on ${listen} (global.prometheus_serve): ${err.code}. Choose a free host:port, or set prometheus_enable: false.`,
              { listen },
              { cause: err },
            )
          : err,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(listen.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) {
    throw new UsageError(
      'PROMETHEUS_LISTEN_INVALID',
      `global.prometheus_serve must be host:port (e.g. 127.0.0.1:20004), received '${listen}'.`,
      { listen },
    );
  }
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host === '' ? '127.0.0.1' : host, port };
}
