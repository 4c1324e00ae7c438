import * as z from 'zod';
import { didYouMeanHint } from './did-you-mean.ts';
import { type DocumentKind, defined } from './document-kind.ts';
import {
  ALWAYS,
  fieldName,
  handlerField,
  idField,
  nullableList,
  paramsField,
  requireOneOf,
  requireSameValue,
} from './fields.ts';
import type { FuncSpec, FunctionMode } from './model.ts';

export const FUNCTION_MODES: readonly FunctionMode[] = ['Verify', 'Save', 'Load', 'Calculate', 'Expand'];

/** Case-insensitive in the loader; spelled out letter by letter so JSON Schema validators agree. */
const MODE_PATTERN = `^(${[...FUNCTION_MODES, 'V', 'S', 'L', 'C', 'E']
  .map((word) => Array.from(word, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join(''))
  .join('|')})$`;

/**
 * The mode a case-insensitive name or initial stands for.
 *
 * @example
 * functionMode('save'); // 'Save'
 * functionMode('S');    // 'Save'
 * functionMode('Sink'); // undefined
 */
export function functionMode(text: string): FunctionMode | undefined {
  const lower = text.toLowerCase();
  return FUNCTION_MODES.find((mode) => mode.toLowerCase() === lower || mode[0]?.toLowerCase() === lower);
}

const fmode = z
  .string()
  .regex(new RegExp(MODE_PATTERN), {
    error: (issue) =>
      `must be one of ${FUNCTION_MODES.join(', ')} (any case) or their initials V, S, L, C, E; got ${JSON.stringify(issue.input)}${didYouMeanHint(String(issue.input), FUNCTION_MODES)}`,
  })
  .meta({ examples: [...FUNCTION_MODES] })
  .describe(
    'What the function is for. Verify checks `source.must` before the function runs; Save and Load use the connector in `option.cid`; Calculate transforms; Expand ends the flow. Case-insensitive; V, S, L, C, E also accepted.',
  );

const source = z.strictObject({
  name: z.string().optional().describe('Name of the data source, for people reading the config.'),
  must: nullableList(fieldName)
    .optional()
    .describe('Fields every input row must have; a Verify function rejects rows without them. Default none.'),
});

const option = z
  .strictObject({
    cid: idField
      .optional()
      .describe('Id of the connector (a `conn` document) this function uses; required for Save and Load.'),
    cname: idField.optional().describe("Go KisFlow's spelling of `cid`."),
    retry_times: z
      .int()
      .min(0)
      .max(999)
      .default(0)
      .describe(
        "Retries of a row whose function throws, in place, before the row is rejected with the error. (Redelivery of a message after an infrastructure failure is the flow's `tuning.max_receives`.)",
      ),
    retry_duration: z
      .int()
      .min(0)
      // SQS caps a message's visibility timeout at 12 hours.
      .max(43_200_000)
      .optional()
      .describe('Delay before a retry, in milliseconds. Default 0.'),
    return_duration: z
      .int()
      .min(0)
      .max(43_200_000)
      .optional()
      .describe("Go KisFlow's spelling of `retry_duration` (ms)."),
    max_receives: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Deliveries of a message to this function's steps before it is dead-lettered; overrides the flow's `tuning.max_receives`.",
      ),
    state: z
      .boolean()
      .default(false)
      .describe(
        'The function uses keyed state (`ctx.state`). Only such steps may read and write the state table in AWS, and only their own keys.',
      ),
    default_params: paramsField
      .optional()
      .describe("Params of every step running this function; a step's own `params` override them."),
  })
  .superRefine((value, ctx) => {
    requireSameValue(value, ctx, ['cid', 'cname']);
    requireSameValue(value, ctx, ['retry_duration', 'return_duration']);
  });

const schema = z
  .strictObject({
    kistype: z.literal('func').describe('Document type: a function.'),
    fid: idField
      .optional()
      .describe('Function id (any Unicode), used by flow steps. Required unless `fname` is given.'),
    fname: idField
      .optional()
      .describe('Display name; default the id. Without `fid` it is the id (Go KisFlow spelling).'),
    fmode,
    source: source.nullable().optional().describe('The rows this function expects.'),
    option: option.nullable().optional().describe('Connector and retry strategy.'),
    handler: handlerField
      .optional()
      .describe('Module path of the function, from the project root. Default `functions/<fid>.ts`.'),
  })
  .superRefine((value, ctx) => requireOneOf(value, ctx, ['fid', 'fname']), ALWAYS)
  .meta({
    title: 'func',
    examples: [
      {
        kistype: 'func',
        fid: 'SaveOrder',
        fmode: 'Save',
        source: { name: 'orders', must: ['userid', 'orderid'] },
        option: { cid: 'Orders', retry_times: 3, retry_duration: 500, default_params: { currency: 'EUR' } },
      },
    ],
  })
  .describe('A function: one small TypeScript module and how flows may use it.');

export const funcDocument: DocumentKind<typeof schema, FuncSpec> = {
  kistype: 'func',
  schema,
  idKeys: ['fid', 'fname'],
  toSpec(parsed, locate) {
    const fid = (parsed.fid ?? parsed.fname) as string;
    const option = parsed.option;
    return defined({
      fid,
      fname: parsed.fname ?? fid,
      fmode: functionMode(parsed.fmode) as FunctionMode,
      source: defined({ name: parsed.source?.name, must: parsed.source?.must ?? [] }),
      cid: option?.cid ?? option?.cname,
      retryTimes: option?.retry_times ?? 0,
      retryDurationMs: option?.retry_duration ?? option?.return_duration ?? 0,
      maxReceives: option?.max_receives,
      usesState: option?.state ?? false,
      defaultParams: option?.default_params ?? {},
      handler: parsed.handler ?? `functions/${fid}.ts`,
      at: locate([]),
    });
  },
};
