import type { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../ports.ts';

/**
 * The engine's Log port over a Powertools Logger: JSON lines, with the logger's persistent keys
 * (flow, step, fid) and the data each call passes (run and batch ids). Per-invocation keys are
 * passed per call rather than appended to the logger, so concurrent local invocations of one
 * handler never mix them.
 */
export function powertoolsLog(logger: Logger): Log {
  return {
    debug: (message, data) => (data === undefined ? logger.debug(message) : logger.debug(message, data)),
    info: (message, data) => (data === undefined ? logger.info(message) : logger.info(message, data)),
    warn: (message, data) => (data === undefined ? logger.warn(message) : logger.warn(message, data)),
    error: (message, data) => (data === undefined ? logger.error(message) : logger.error(message, data)),
  };
}
