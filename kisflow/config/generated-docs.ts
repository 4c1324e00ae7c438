import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { configJsonSchema, SCHEMA_FILE } from './json-schema.ts';

/** The YAML reference, generated like the JSON Schema so neither can drift from the zod schemas. */
export const REFERENCE_FILE = 'docs/yaml-reference.md';

type JsonSchema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  description?: string;
};

function typeText(node: JsonSchema): string {
  if (typeof node.$ref === 'string') return 'any JSON value';
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (Array.isArray(node.enum)) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' or ');
  if (node.anyOf) return node.anyOf.map(typeText).join(' or ');
  const range =
    node.minimum !== undefined || node.maximum !== undefined
      ? ` ${node.minimum ?? ''}..${node.maximum ?? ''}`
      : '';
  switch (node.type) {
    case 'array':
      return `list of ${node.items ? typeText(node.items) : 'values'}`;
    case 'object':
      if (node.properties) return 'mapping';
      if (
        typeof node.additionalProperties === 'object' &&
        Object.keys(node.additionalProperties).length > 0
      ) {
        return `map of ${typeText(node.additionalProperties)}`;
      }
      return 'mapping';
    case 'integer':
      return `integer${range}`;
    case 'number':
      return `number${range}`;
    case 'boolean':
      return '`true` or `false`';
    case 'null':
      return '`null`';
    default:
      return node.type ?? 'any';
  }
}

/** The object schema a property holds, directly, as one of its alternatives, or as its list items. */
function nestedObject(node: JsonSchema): { schema: JsonSchema; list: boolean } | undefined {
  for (const candidate of [node, ...(node.anyOf ?? [])]) {
    if (candidate.properties) return { schema: candidate, list: false };
    if (candidate.items?.properties) return { schema: candidate.items, list: true };
  }
  return undefined;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A Markdown table with padded columns, as the repository's formatter (biome) writes them. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function fieldRows(schema: JsonSchema, prefix: string, idKeys: readonly string[]): string[][] {
  const rows: string[][] = [];
  const required = new Set(schema.required ?? []);
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    const name = `${prefix}${key}`;
    const description = node.description ?? node.anyOf?.find((b) => b.description)?.description ?? '';
    const needed = required.has(key) ? 'yes' : idKeys.includes(key) ? `one of ${idKeys.join(', ')}` : '';
    const fallback = node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``;
    rows.push([`\`${name}\``, cell(typeText(node)), needed, cell(fallback), cell(description)]);
    const nested = nestedObject(node);
    if (nested) rows.push(...fieldRows(nested.schema, `${name}${nested.list ? '[].' : '.'}`, []));
  }
  return rows;
}

/** The YAML reference page: one field table and one example per kistype, from the JSON Schema. */
export function yamlReference(schema: Record<string, unknown> = configJsonSchema()): string {
  const lines = [
    '# KisFlow YAML reference',
    '',
    '<!-- Generated from the zod schemas in kisflow/config by writeGeneratedDocs(); do not edit by hand. -->',
    '',
    'Every `*.yml`/`*.yaml` file under the flows folder holds one or more documents (separated by `---`);',
    '`kistype` says which object a document describes. Unknown keys are errors. Ids may be any Unicode.',
    '',
    `Editors check and complete the YAML with the JSON Schema in \`${SCHEMA_FILE}\`; put this line at the`,
    'top of a file in `flows/`:',
    '',
    '```yaml',
    `# yaml-language-server: $schema=../${SCHEMA_FILE}`,
    '```',
    '',
  ];
  for (const branch of schema.oneOf as JsonSchema[]) {
    const kistype = String(branch.properties?.kistype?.const);
    const idKeys = (branch.anyOf ?? []).flatMap((alternative) => alternative.required ?? []);
    lines.push(`## \`kistype: ${kistype}\``, '', String(branch.description ?? ''), '');
    lines.push(
      ...table(['field', 'type', 'required', 'default', 'description'], fieldRows(branch, '', idKeys)),
      '',
    );
    for (const example of (branch.examples as unknown[] | undefined) ?? []) {
      lines.push('Example:', '', '```yaml', stringify(example).trimEnd(), '```', '');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The generated files, as `{ path (from the project root), content }`. */
export function generatedDocs(): { path: string; content: string }[] {
  const schema = configJsonSchema();
  return [
    { path: SCHEMA_FILE, content: `${JSON.stringify(schema, null, 2)}\n` },
    { path: REFERENCE_FILE, content: yamlReference(schema) },
  ];
}

/**
 * Writes the JSON Schema and the YAML reference under `root`; returns the absolute paths written.
 * Run `npx tsx kisflow/config/generated-docs.ts` after changing a schema.
 *
 * @example
 * writeGeneratedDocs(process.cwd()); // docs/schema/kisflow.schema.json, docs/yaml-reference.md
 */
export function writeGeneratedDocs(root: string): string[] {
  return generatedDocs().map(({ path: relative, content }) => {
    const target = path.resolve(root, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
    return target;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  for (const written of writeGeneratedDocs(process.cwd())) console.log(`wrote ${written}`);
}
