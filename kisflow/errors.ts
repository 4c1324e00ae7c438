/**
 * The error family. Each class has a stable `code` (for DLQ reasons, exit codes and tests)
 * and structured `context`; messages say what went wrong, what was received and how to fix it.
 * This file imports nothing of the project.
 */

export type ErrorContext = Readonly<Record<string, unknown>>;

export class KisFlowError extends Error {
  readonly code: string;
  readonly context: ErrorContext;

  constructor(code: string, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
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

/** A connector could not be used: no implementation for its type, no connector on the step, a store failure. */
export class ConnectorError extends KisFlowError {}

/** A message could not be decoded (not JSON, wrong envelope version, wrong shape). Never retried. */
export class EnvelopeError extends KisFlowError {}

/** A row or message is larger than the transport allows. Never retried. */
export class OversizeError extends KisFlowError {}

/**
 * A failure of the infrastructure under the engine (a store, a queue). The whole message is
 * retried by the transport; contrast with user-function errors, which reject single rows.
 */
export class InfrastructureError extends KisFlowError {}

/** A bad command-line use (unknown flow, unreadable input file). Printed without a stack trace. */
export class UsageError extends KisFlowError {}
