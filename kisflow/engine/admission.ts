import { prettifyError } from 'zod';
import { StepError } from '../errors.ts';
import type { Row } from '../ports.ts';
import type { BatchScope } from './batch-scope.ts';
import { compileMustCheck, isPresent } from './must-check.ts';
import { rowProblem } from './row-values.ts';

/** The rows let in: as they entered the step, and as the function gets them (parsed by its schema). */
export interface Admitted {
  readonly originals: Row[];
  readonly inputs: Row[];
}

/**
 * The first phase of a step: input checks before user code. Rows entering the flow (step 0) must
 * be JSON objects — and, when rows travel as JSON, ones JSON carries unchanged (`INVALID_ROW`);
 * later steps get rows committed through `ctx.commit`, which were checked. Verify rejects rows
 * lacking a `source.must` field (`MISSING_FIELD`); a function's zod `input` schema rejects rows
 * that do not parse (`INVALID_ROW`), in any mode, and the function gets the parsed rows.
 */
export class Admission {
  readonly #scan: boolean;
  readonly #must: readonly string[];
  readonly #admissible: (row: Row) => boolean;
  readonly #deep: boolean;

  constructor(entry: boolean, must: readonly string[], serialized: boolean) {
    this.#must = must;
    this.#scan = entry || must.length > 0;
    this.#admissible = compileMustCheck(must);
    this.#deep = entry && serialized;
  }

  /** @throws StepError `BAD_INPUT_SCHEMA` for an asynchronous zod input schema. */
  admit(rows: readonly Row[], scope: BatchScope): Admitted {
    const n = rows.length;
    // The scan is fast and almost every batch is clean: then the input array is used as is
    // (never written to: see BatchScope.accept) instead of being copied row by row.
    let i = this.#scan ? 0 : n;
    const admissible = this.#admissible;
    if (this.#deep) while (i < n && admissible(rows[i] as Row) && rowProblem(rows[i]) === undefined) i++;
    else while (i < n && admissible(rows[i] as Row)) i++;
    let originals: Row[];
    if (i === n) {
      originals = rows as Row[];
    } else {
      originals = rows.slice(0, i);
      for (; i < n; i++) {
        const row = rows[i] as Row;
        if (this.#admitOne(row, scope)) originals.push(row);
      }
    }
    const schema = scope.bound.fn.input;
    if (schema === undefined) return { originals, inputs: originals };
    const kept: Row[] = [];
    const inputs: Row[] = [];
    for (const row of originals) {
      let parsed: ReturnType<typeof schema.safeParse>;
      try {
        parsed = schema.safeParse(row);
      } catch (err) {
        // zod throws (instead of returning an issue) for async refinements in a sync parse.
        const { flow } = scope;
        throw new StepError(
          'BAD_INPUT_SCHEMA',
          `The input schema of function '${flow.fid}' cannot check a row: ${err instanceof Error ? err.message : String(err)}. Input schemas must be synchronous (no async refine/transform).`,
          { flowId: flow.id, step: flow.step, fid: flow.fid },
          { cause: err },
        );
      }
      if (parsed.success) {
        kept.push(row);
        inputs.push(parsed.data);
      } else {
        scope.reject('INVALID_ROW', prettifyError(parsed.error), row);
      }
    }
    return { originals: kept, inputs };
  }

  #admitOne(row: Row, scope: BatchScope): boolean {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      scope.reject('INVALID_ROW', `A row must be a JSON object, received ${describe(row)}.`, row);
      return false;
    }
    if (this.#deep) {
      const problem = rowProblem(row);
      if (problem !== undefined) {
        // The row itself may be what JSON cannot carry: the dead letter keeps what can be said of it.
        scope.reject(
          'INVALID_ROW',
          `The row cannot travel as JSON unchanged: ${problem}.`,
          unserializableRow(problem),
        );
        return false;
      }
    }
    const must = this.#must;
    const missing = must.filter((field) => !isPresent(row[field]));
    if (missing.length === 0) return true;
    scope.reject(
      'MISSING_FIELD',
      `Missing required field${missing.length === 1 ? '' : 's'} ${missing.map((f) => `'${f}'`).join(', ')} (source.must of '${scope.flow.fid}': ${must.map((f) => `'${f}'`).join(', ')}).`,
      row,
    );
    return false;
  }
}

function describe(value: unknown): string {
  const problem = rowProblem({ value });
  if (problem !== undefined) return problem.replace(/^value is /, '');
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** What a dead letter carries for a row that JSON cannot carry. */
function unserializableRow(problem: string): Row {
  return { kisflow_unserializable_row: problem };
}
