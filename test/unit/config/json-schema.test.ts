import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { generatedDocs } from '../../../kisflow/config/generated-docs.ts';
import { configJsonSchema } from '../../../kisflow/config/index.ts';
import { documentKinds, KISTYPES } from '../../../kisflow/config/kistypes.ts';
import { schemaErrors } from './json-schema-check.ts';

type Schema = Record<string, unknown>;
const schema = configJsonSchema();
const branches = schema.oneOf as Schema[];
const branch = (kistype: string) =>
  branches.find((b) => (b.properties as Record<string, Schema>).kistype?.const === kistype) as Schema;
const property = (kistype: string, key: string) =>
  (branch(kistype).properties as Record<string, Schema>)[key] as Schema;

function yamlDocuments(dir: string): unknown[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()));
}

describe('the JSON Schema', () => {
  it('is draft 2020-12, one branch per kistype, with descriptions', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(branches.map((b) => (b.properties as Record<string, Schema>).kistype?.const)).toEqual([
      ...KISTYPES,
    ]);
    for (const b of branches) {
      expect(b.additionalProperties).toBe(false);
      expect(typeof b.description).toBe('string');
      for (const [key, p] of Object.entries(b.properties as Record<string, Schema>)) {
        expect(
          p.description ?? (p.anyOf as Schema[] | undefined)?.find((x) => x.description),
          key,
        ).toBeTruthy();
      }
    }
  });

  it('states required fields, id spellings, enums and defaults', () => {
    expect(branch('func').required).toEqual(['kistype', 'fmode']);
    expect(branch('func').anyOf).toEqual([{ required: ['fid'] }, { required: ['fname'] }]);
    expect(branch('flow').anyOf).toEqual([{ required: ['flow_id'] }, { required: ['flow_name'] }]);
    expect(branch('conn').required).toEqual(['kistype', 'key']);
    expect(branch('job').required).toEqual(['kistype', 'job_id', 'schedule', 'flow_id']);
    expect(property('flow', 'status')).toMatchObject({ enum: [0, 1], default: 1 });
    expect(property('conn', 'type').default).toBe('dynamodb');
    expect(property('job', 'timezone').default).toBe('UTC');
    expect(property('global', 'metrics_namespace').default).toBe('KisFlow');
    const tuning = property('flow', 'tuning').properties as Record<string, Schema>;
    expect(tuning.batch_size).toMatchObject({ type: 'integer', minimum: 1, maximum: 10_000, default: 10 });
    expect(tuning.memory).toMatchObject({ minimum: 128, maximum: 10_240, default: 256 });
  });

  it('accepts the seed examples and the Go spellings', () => {
    const documents = [
      ...yamlDocuments('test/fixtures/seed/flows'),
      ...yamlDocuments('test/fixtures/config/spellings/go'),
      ...yamlDocuments('test/fixtures/config/spellings/seed'),
    ];
    expect(documents).toHaveLength(4 + 4 + 4);
    for (const document of documents) expect(schemaErrors(schema, document)).toEqual([]);
  });

  it('rejects what the loader rejects', () => {
    const bad = [
      { kistype: 'func', fid: 'A', fmode: 'Calculate', fmdoe: 'x' },
      { kistype: 'func', fid: 'A', fmode: 'Transform' },
      { kistype: 'func', fmode: 'Save' },
      { kistype: 'fucn', fid: 'A', fmode: 'Save' },
      { kistype: 'flow', flow_id: 'F', status: 2 },
      { kistype: 'flow', flow_id: 'F', tuning: { memory: 64 } },
      { kistype: 'conn', cid: 'C' },
    ];
    for (const document of bad)
      expect(schemaErrors(schema, document), JSON.stringify(document)).not.toEqual([]);
    // Case-insensitive modes and initials are fine for editors too.
    for (const fmode of ['save', 'SAVE', 'S', 'e']) {
      expect(schemaErrors(schema, { kistype: 'func', fid: 'A', fmode })).toEqual([]);
    }
  });

  it('carries examples that both the schema and the loader accept', () => {
    for (const kistype of KISTYPES) {
      const examples = branch(kistype).examples as unknown[];
      expect(examples.length).toBeGreaterThan(0);
      for (const example of examples) {
        expect(schemaErrors(schema, example)).toEqual([]);
        expect(documentKinds[kistype].schema.safeParse(example).success).toBe(true);
      }
    }
  });
});

describe('the generated docs', () => {
  it('match the checked-in files (run `npx tsx kisflow/config/generated-docs.ts` after changing a schema)', () => {
    for (const { path: file, content } of generatedDocs()) {
      expect(readFileSync(file, 'utf8'), `${file} is out of date`).toBe(content);
    }
  });

  it('document every field of every kistype', () => {
    const reference = generatedDocs().find((d) => d.path === 'docs/yaml-reference.md')?.content ?? '';
    for (const kistype of KISTYPES) expect(reference).toContain(`## \`kistype: ${kistype}\``);
    for (const field of [
      '`option.retry_duration`',
      '`flows[].params`',
      '`tuning.batch_size`',
      '`schedule`',
      '`ttl`',
    ]) {
      expect(reference).toContain(field);
    }
    expect(reference).toContain('# yaml-language-server: $schema=../docs/schema/kisflow.schema.json');
  });
});
