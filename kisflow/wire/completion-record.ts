import * as z from 'zod/mini';
import { EnvelopeError } from '../errors.ts';
import type { CarriedCompletion } from '../ports.ts';

/**
 * Batch completions in their stored and carried form: the same short JSON in an envelope's
 * `carry` (ports.ts `StepBatch.carry`) and in the run ledger's record bundles
 * (kisflow/aws/dynamodb-run-ledger.ts), so a record reads the same wherever it rests.
 * `{ b: batchId, s: step, f: fid, c: counters, n: children, o: 'd' when dead-lettered,
 *   ms: duration, at: when done, u: usage }`, counters and usage by the short names below with
 * zeros left out: it rides in every message of a chain, so its bytes are paid per message.
 * Records written before the short names (long names: `in`, `sqsRequests`, ...) read the same.
 */

/** Counter and usage names on the wire (`c` and `u`); any other name is read as it is. */
const SHORT: Readonly<Record<string, string>> = {
  in: 'i',
  out: 'o',
  rejected: 'r',
  dropped: 'd',
  deadLettered: 'l',
  errors: 'e',
  sqsRequests: 'q',
  lambdaInvocations: 'v',
  lambdaGbSeconds: 'g',
  dynamodbReadUnits: 'dr',
  dynamodbWriteUnits: 'dw',
};
const LONG: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SHORT).map(([long, short]) => [short, long]),
);

function shorten(values: Readonly<Record<string, number | undefined>>, round?: (v: number) => number) {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === 0) continue;
    out[SHORT[k] ?? k] = round === undefined ? v : round(v);
  }
  return out;
}

function lengthen(values: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) out[LONG[k] ?? k] = v;
  return out;
}
const recordSchema = z.object({
  b: z.string().check(z.minLength(1)),
  s: z.int().check(z.nonnegative()),
  f: z.optional(z.string()),
  c: z.optional(z.record(z.string(), z.number())),
  n: z.optional(z.int()),
  o: z.optional(z.literal('d')),
  ms: z.optional(z.number()),
  at: z.optional(z.number()),
  u: z.optional(z.record(z.string(), z.number())),
});
const recordsSchema = z.array(recordSchema);

type StoredCompletion = CarriedCompletion;

type Wire = z.infer<typeof recordSchema>;

function toWire(c: StoredCompletion): Wire {
  const w: Record<string, unknown> = { b: c.batchId, s: c.step };
  if (c.fid !== undefined) w.f = c.fid;
  if (c.counters !== undefined) w.c = shorten(c.counters);
  if (c.children !== undefined && c.children !== 0) w.n = c.children;
  if (c.outcome === 'dead_lettered') w.o = 'd';
  if (c.durationMs !== undefined) w.ms = Math.round(c.durationMs * 100) / 100;
  if (c.at !== undefined) w.at = c.at;
  if (c.usage !== undefined) {
    // Shares of a request are fractions: 6 significant digits are plenty for an estimate.
    w.u = shorten(c.usage, (v) => Number(v.toPrecision(6)));
  }
  return w as Wire;
}

function fromWire(w: Wire): StoredCompletion {
  return {
    batchId: w.b,
    step: w.s,
    ...(w.f === undefined ? {} : { fid: w.f }),
    ...(w.c === undefined ? {} : { counters: lengthen(w.c) }),
    children: w.n ?? 0,
    ...(w.o === 'd' ? { outcome: 'dead_lettered' as const } : {}),
    ...(w.ms === undefined ? {} : { durationMs: w.ms }),
    ...(w.at === undefined ? {} : { at: w.at }),
    ...(w.u === undefined ? {} : { usage: lengthen(w.u) }),
  };
}

/** The wire form of completions (a JSON-ready array). */
export function encodeCompletions(list: readonly StoredCompletion[]): unknown[] {
  return list.map(toWire);
}

/**
 * Completions from their wire form.
 *
 * @throws EnvelopeError `INVALID_ENVELOPE` when `value` is not an array of completion records.
 */
export function decodeCompletions(value: unknown): StoredCompletion[] {
  const parsed = recordsSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EnvelopeError(
      'INVALID_ENVELOPE',
      `The message's carried completions are not valid: ${issue?.path.map(String).join('.') || '(carry)'}: ${issue?.message}. Expected carry: [{ b: batch id, s: step, ... }], as KisFlow writes it.`,
      { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    );
  }
  return parsed.data.map(fromWire);
}
