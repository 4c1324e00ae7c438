import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';

/** The header every action (and, off loopback, every read) carries. */
export const TOKEN_HEADER = 'x-kisflow-token';

/** 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** `--token`, else `KISFLOW_CONSOLE_TOKEN`, else a fresh random one (printed at start). */
export function consoleToken(given: string | undefined): string {
  return given || process.env.KISFLOW_CONSOLE_TOKEN || randomBytes(24).toString('base64url');
}

function same(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hostnameOf(header: string | undefined): string {
  if (header === undefined) return '';
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : (header.split(':')[0] ?? '');
}

/**
 * Who may do what. Actions are POSTs carrying the token in a header (a page of another origin
 * cannot set it, so no cross-site form can act). On loopback, reads are open to this machine and
 * a request naming another Host is refused (DNS rebinding); on any other bind every API request
 * needs the token too (in the header, or `?token=` for the event stream, which cannot set one).
 */
export function accessGuard(options: {
  readonly token: string;
  readonly loopback: boolean;
}): MiddlewareHandler {
  return async (c, next) => {
    if (options.loopback && !isLoopbackHost(hostnameOf(c.req.header('host')))) {
      return c.json(
        { error: { code: 'FORBIDDEN_HOST', message: 'This console answers on loopback names only.' } },
        403,
      );
    }
    const path = c.req.path;
    if (!path.startsWith('/api/')) return next();
    const method = c.req.method;
    const header = c.req.header(TOKEN_HEADER);
    if (method !== 'GET' && method !== 'HEAD') {
      if (!same(header, options.token)) {
        return c.json(
          {
            error: {
              code: 'TOKEN_REQUIRED',
              message: `An action needs the console token in the ${TOKEN_HEADER} header.`,
            },
          },
          401,
        );
      }
      return next();
    }
    if (!options.loopback && !same(header ?? c.req.query('token'), options.token)) {
      return c.json(
        {
          error: {
            code: 'TOKEN_REQUIRED',
            message: 'This console is bound beyond loopback: every request needs its token.',
          },
        },
        401,
      );
    }
    return next();
  };
}
