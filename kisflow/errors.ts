/**
 * The error family. Each class has a stable `code` (for DLQ reasons, exit codes and tests)
 * and structured `context`; messages say what went wrong, what was received and how to fix it.
 * This file imports nothing of the project.
 */

export type ErrorContext = Readonly<Record<string, unknown>>;

export interface KisFlowErrorOptions {
  readonly cause?: unknown;
  /**
   * Whether trying the same message again can succeed. Declared where the error is thrown, so no
   * runtime has to guess from the class or the code.
   * @default - the class's `retryableByDefault` (see each class)
   */
  readonly retryable?: boolean;
}

export class KisFlowError extends Error {
  /** What a class's errors are unless the throw says otherwise: a bare KisFlowError is a bug or misconfiguration. */
  static readonly retryableByDefault: boolean = false;
  readonly code: string;
  readonly context: ErrorContext;
  /** True when a retry of the same message can succeed; false: dead-letter it at once with the reason. */
  readonly retryable: boolean;

  constructor(code: string, message: string, context: ErrorContext = {}, options: KisFlowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
    this.retryable = options.retryable ?? (new.target as typeof KisFlowError).retryableByDefault;
  }
}

/**
 * Whether a retry of the message that failed with `error` can help. Errors that are not
 * KisFlowErrors (an SDK timeout, a socket reset, a bug) are retried: the receive budget bounds them.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof KisFlowError ? error.retryable : true;
}

/** One problem found in the YAML (or in-code) configuration, located where possible. */
export interface ConfigIssue {
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  if (issue.file === undefined) return issue.message;
  if (issue.line === undefined) return `${issue.file}: ${issue.message}`;
  return `${issue.file}:${issue.line}:${issue.col ?? 1}: ${issue.message}`;
}

/** Every configuration problem at once; `message` lists them as `file:line:col: message`. */
export class ConfigError extends KisFlowError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const n = issues.length;
    super(
      'CONFIG_INVALID',
      `${n} configuration problem${n === 1 ? '' : 's'}:\n${issues.map(formatConfigIssue).join('\n')}`,
      { count: n },
    );
    this.issues = issues;
  }
}

/** A user function failed (threw, or returned rows it must not). The row is rejected with this reason. */
export class StepError extends KisFlowError {}

/** A row did not satisfy the step's input contract (`source.must`, the function's zod schema). */
export class RowRejectedError extends KisFlowError {}

/**
 * A connector could not be used: no implementation for its type, no connector on the step, a store
 * failure. Retryable unless its code names a mistake no retry fixes (a missing implementation or
 * wiring, a row the store can never hold).
 */
export class ConnectorError extends KisFlowError {
  static readonly permanentCodes: ReadonlySet<string> = new Set([
    'BAD_CONNECTOR',
    'BAD_CONNECTOR_RESULT',
    'CONNECTOR_NOT_WIRED',
    'CONNECTOR_TYPE_NOT_IMPLEMENTED',
    'NO_CONNECTOR',
    'NO_STATE_TABLE',
    'STATE_NOT_DECLARED',
    'UNKNOWN_CONNECTOR',
    'KEY_TOO_LONG',
    'ITEM_TOO_LARGE',
  ]);

  constructor(code: string, message: string, context: ErrorContext = {}, options: KisFlowErrorOptions = {}) {
    super(code, message, context, {
      ...options,
      retryable: options.retryable ?? !ConnectorError.permanentCodes.has(code),
    });
  }
}

/** A message could not be decoded (not JSON, wrong envelope version, wrong shape). Never retried. */
export class EnvelopeError extends KisFlowError {}

/** A row or message is larger than the transport allows. Never retried. */
export class OversizeError extends KisFlowError {}

/**
 * A failure of the infrastructure under the engine (a store, a queue). The whole message is
 * retried by the transport; contrast with user-function errors, which reject single rows.
 */
export class InfrastructureError extends KisFlowError {
  static override readonly retryableByDefault: boolean = true;
}

/** A bad command-line use (unknown flow, unreadable input file). Printed without a stack trace. */
export class UsageError extends KisFlowError {}
