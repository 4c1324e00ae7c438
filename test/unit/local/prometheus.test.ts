import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../kisflow/errors.ts';
import { startPrometheusServer } from '../../../kisflow/local/prometheus.ts';
import { MemoryMetrics } from '../../../kisflow/memory/index.ts';

describe('Prometheus endpoint', () => {
  it('serves the metrics as Prometheus text at /metrics, live', async () => {
    const metrics = new MemoryMetrics();
    const server = await startPrometheusServer('127.0.0.1:0', metrics);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      metrics.count('rows_in', 3, { flow: 'f', step: 'a' });
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await res.text()).toContain('kisflow_rows_in_total{flow="f",step="a"} 3');
      metrics.count('rows_in', 2, { flow: 'f', step: 'a' });
      expect(await (await fetch(server.url)).text()).toContain('kisflow_rows_in_total{flow="f",step="a"} 5');
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.stop();
    }
  });

  it('says what is wrong with the address, and when the port is taken', async () => {
    await expect(startPrometheusServer('localhost', new MemoryMetrics())).rejects.toThrow(/host:port/);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as AddressInfo;
    try {
      const attempt = startPrometheusServer(`127.0.0.1:${port}`, new MemoryMetrics());
      await expect(attempt).rejects.toBeInstanceOf(UsageError);
      await expect(attempt).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});
