import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { accessGuard, isLoopbackHost, TOKEN_HEADER } from '../../../kisflow/console/access.ts';
import { pickLanguage } from '../../../kisflow/console/server.ts';

function app(loopback: boolean) {
  const a = new Hono();
  a.use('*', accessGuard({ token: 'secret-token', loopback }));
  a.get('/', (c) => c.text('page'));
  a.get('/api/read', (c) => c.text('read'));
  a.post('/api/act', (c) => c.text('done'));
  return a;
}
const call = (a: Hono, path: string, init: RequestInit & { host?: string } = {}) =>
  a.request(`http://${init.host ?? '127.0.0.1:8290'}${path}`, {
    ...init,
    headers: { host: init.host ?? '127.0.0.1:8290', ...(init.headers as Record<string, string>) },
  });

describe('console access', () => {
  it('knows loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '192.168.1.5', '::', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it('on loopback: reads are open, an action needs the token in its header, a foreign Host is refused', async () => {
    const a = app(true);
    expect((await call(a, '/api/read')).status).toBe(200);
    expect((await call(a, '/api/act', { method: 'POST' })).status).toBe(401);
    expect((await call(a, '/api/act?token=secret-token', { method: 'POST' })).status).toBe(401);
    expect(
      (await call(a, '/api/act', { method: 'POST', headers: { [TOKEN_HEADER]: 'secret-tokeN' } })).status,
    ).toBe(401);
    expect(
      (await call(a, '/api/act', { method: 'POST', headers: { [TOKEN_HEADER]: 'secret-token' } })).status,
    ).toBe(200);
    expect((await call(a, '/api/read', { host: 'rebound.example:8290' })).status).toBe(403);
    expect((await call(a, '/api/read', { host: 'localhost:8290' })).status).toBe(200);
  });

  it('off loopback: every API request needs the token; the event stream may carry it in the query', async () => {
    const a = app(false);
    expect((await call(a, '/api/read', { host: '10.0.0.5:8290' })).status).toBe(401);
    expect((await call(a, '/api/read?token=secret-token', { host: '10.0.0.5:8290' })).status).toBe(200);
    expect(
      (await call(a, '/api/read', { host: '10.0.0.5:8290', headers: { [TOKEN_HEADER]: 'secret-token' } }))
        .status,
    ).toBe(200);
    expect((await call(a, '/api/act', { method: 'POST', host: '10.0.0.5:8290' })).status).toBe(401);
  });

  it('picks the language from Accept-Language', () => {
    expect(pickLanguage('zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh');
    expect(pickLanguage('en-US,en;q=0.9,zh;q=0.5')).toBe('en');
    expect(pickLanguage('fr-FR,zh-TW;q=0.8')).toBe('zh');
    expect(pickLanguage(undefined)).toBe('en');
  });
});
