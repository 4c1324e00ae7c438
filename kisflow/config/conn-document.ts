import * as z from 'zod';
import { type DocumentKind, defined } from './document-kind.ts';
import {
  ALWAYS,
  fieldName,
  handlerField,
  idField,
  nullableList,
  paramsField,
  requireOneOf,
} from './fields.ts';
import type { ConnSpec, KeyRule } from './model.ts';

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** What is wrong with a `{field}` template, if anything. */
function templateProblem(template: string): string | undefined {
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
  if (names.some((name) => name.trim() === '')) return `template ${JSON.stringify(template)} has an empty {}`;
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) {
    return `template ${JSON.stringify(template)} has an unmatched brace; write placeholders as {field}`;
  }
  return undefined;
}

/**
 * The key rule a conn's `key` describes.
 *
 * @example
 * keyRule(['userid', 'orderid']);   // { kind: 'fields', fields: ['userid', 'orderid'] }
 * keyRule('user#{userid}');         // { kind: 'template', template: 'user#{userid}', fields: ['userid'] }
 * keyRule('userid_orderid_option'); // { kind: 'literal', name: 'userid_orderid_option' }
 */
export function keyRule(key: string | readonly string[]): KeyRule {
  if (typeof key !== 'string') return { kind: 'fields', fields: [...key] };
  const fields = [...new Set([...key.matchAll(PLACEHOLDER)].map((m) => (m[1] as string).trim()))];
  return fields.length === 0 ? { kind: 'literal', name: key } : { kind: 'template', template: key, fields };
}

const schema = z
  .strictObject({
    kistype: z.literal('conn').describe('Document type: a connector.'),
    cid: idField.optional().describe('Connector id (any Unicode). Required unless `cname` is given.'),
    cname: idField
      .optional()
      .describe('Display name; default the id. Without `cid` it is the id (Go KisFlow spelling).'),
    addrs: z
      .string()
      .optional()
      .describe('Server addresses (KisFlow compatibility; given to the connector as is).'),
    type: z
      .string()
      .min(1)
      .default('dynamodb')
      .describe(
        'Storage type: `dynamodb`, or any type implemented in code with `defineConnector` (e.g. `redis`).',
      ),
    key: z
      .union([z.array(fieldName).min(1), z.string().min(1)])
      .describe(
        "How a row's key is built: a list of fields (`[userid, orderid]`, values joined with `#`), a template with `{field}` placeholders (`user#{userid}`), or a plain name (one key for every row, as KisFlow's Redis key).",
      ),
    params: paramsField.optional().describe('Settings given to the connector implementation.'),
    load: nullableList(idField).optional().describe('Ids of the Load functions that read this connector.'),
    save: nullableList(idField).optional().describe('Ids of the Save functions that write this connector.'),
    flow: nullableList(idField).optional().describe('Ids of the flows that use this connector.'),
    handler: handlerField
      .optional()
      .describe(
        'Module (path from the project root) exporting `defineConnector(type, ...)` for a type other than dynamodb. Default `connectors/<type>.ts`.',
      ),
    ttl: z
      .int()
      .min(1)
      .optional()
      .describe('Seconds after which stored rows expire (DynamoDB TTL). Default: never.'),
  })
  .superRefine((value, ctx) => requireOneOf(value, ctx, ['cid', 'cname']), ALWAYS)
  .superRefine((value, ctx) => {
    if (typeof value.key === 'string') {
      const problem = templateProblem(value.key);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['key'] });
    }
    if (value.handler !== undefined && value.type === 'dynamodb') {
      ctx.addIssue({
        code: 'custom',
        message:
          'only for connector types other than dynamodb (which is built in); set type or remove handler',
        path: ['handler'],
      });
    }
  })
  .meta({
    title: 'conn',
    examples: [
      { kistype: 'conn', cid: 'Orders', key: ['userid', 'orderid'], save: ['SaveOrder'], ttl: 86400 },
    ],
  })
  .describe('A connector: where Save functions store rows and Load functions read them.');

export const connDocument: DocumentKind<typeof schema, ConnSpec> = {
  kistype: 'conn',
  schema,
  idKeys: ['cid', 'cname'],
  toSpec(parsed, locate) {
    const cid = (parsed.cid ?? parsed.cname) as string;
    return defined({
      cid,
      cname: parsed.cname ?? cid,
      type: parsed.type,
      key: keyRule(parsed.key),
      params: parsed.params ?? {},
      addrs: parsed.addrs,
      load: parsed.load ?? [],
      save: parsed.save ?? [],
      flows: parsed.flow ?? [],
      handler: parsed.handler,
      ttlSeconds: parsed.ttl,
      at: locate([]),
    });
  },
};
