import { ConfigError, InfrastructureError, KisFlowError, UsageError } from '../errors.ts';

/** The JSON body and status of a failed request: a code a script can test, a message a person reads. */
export function errorResponse(error: unknown): {
  status: 400 | 404 | 422 | 500 | 502;
  body: { error: { code: string; message: string; context?: unknown } };
} {
  if (error instanceof KisFlowError) {
    const status =
      error instanceof ConfigError || error.code === 'CONFIG_INVALID'
        ? 422
        : error instanceof InfrastructureError
          ? 502
          : error instanceof UsageError && /NOT_FOUND|^UNKNOWN_|NOT_DEPLOYED/.test(error.code)
            ? 404
            : error instanceof UsageError
              ? 400
              : 500;
    return { status, body: { error: { code: error.code, message: error.message, context: error.context } } };
  }
  // A bug: its stack goes to the console's stderr, never to the page.
  process.stderr.write(`kisflow console: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'Internal error in kisflow console (see its terminal).' } },
  };
}
