import * as z from 'zod';
import { connDocument } from './conn-document.ts';
import type { Kistype } from './document-kind.ts';
import { flowDocument } from './flow-document.ts';
import { funcDocument } from './func-document.ts';
import { globalDocument } from './global-document.ts';
import { jobDocument } from './job-document.ts';

/** Every kistype, in the order the docs present them. */
export const KISTYPES: readonly Kistype[] = ['func', 'flow', 'conn', 'global', 'job'];

export const documentKinds = {
  func: funcDocument,
  flow: flowDocument,
  conn: connDocument,
  global: globalDocument,
  job: jobDocument,
} as const;

export function isKistype(value: unknown): value is Kistype {
  return typeof value === 'string' && (KISTYPES as readonly string[]).includes(value);
}

/** One YAML document of any kistype: what the JSON Schema describes. */
export const configDocumentSchema = z
  .discriminatedUnion('kistype', [
    funcDocument.schema,
    flowDocument.schema,
    connDocument.schema,
    globalDocument.schema,
    jobDocument.schema,
  ])
  .describe('One KisFlow YAML document; `kistype` says which object it describes.');
