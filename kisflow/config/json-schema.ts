import * as z from 'zod';
import { documentKinds, KISTYPES } from './kistypes.ts';

/** Where editors find the schema, relative to a YAML file in `flows/`. */
export const SCHEMA_FILE = 'docs/schema/kisflow.schema.json';

/**
 * The JSON Schema (draft 2020-12) of one KisFlow YAML document, generated from the zod schemas:
 * what editors use to complete and check the YAML
 * (`# yaml-language-server: $schema=../docs/schema/kisflow.schema.json`).
 *
 * @example
 * writeFileSync('kisflow.schema.json', JSON.stringify(configJsonSchema(), null, 2));
 */
export function configJsonSchema(): Record<string, unknown> {
  const union = z.discriminatedUnion(
    'kistype',
    KISTYPES.map((kistype) => documentKinds[kistype].schema) as unknown as [z.ZodObject, ...z.ZodObject[]],
  );
  const generated = z.toJSONSchema(union, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  const branches = generated.oneOf as Record<string, unknown>[];
  // zod cannot say "one of these two keys is required" (the seed's id or Go's): add it here.
  for (const branch of branches) {
    const kistype = ((branch.properties as Record<string, { const?: string }>).kistype?.const ??
      '') as keyof typeof documentKinds;
    const idKeys = documentKinds[kistype]?.idKeys ?? [];
    if (idKeys.length === 2) branch.anyOf = idKeys.map((key) => ({ required: [key] }));
  }
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: 'https://kisflow.dev/schema/kisflow.schema.json',
    title: 'KisFlow YAML document',
    description:
      'One document of a KisFlow YAML file; `kistype` says which object it describes (func, flow, conn, global, job).',
    ...rest,
  };
}
