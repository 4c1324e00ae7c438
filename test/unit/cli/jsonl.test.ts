import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringifyForReport, stringifyRow } from '../../../kisflow/cli/exact-json.ts';
import { readJsonLines } from '../../../kisflow/cli/jsonl.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-jsonl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function read(bytes: Buffer | string) {
  const file = join(dir, `${Math.random()}.jsonl`);
  await writeFile(file, bytes);
  return readJsonLines(file);
}

describe('readJsonLines: no silent changes to the input', () => {
  it('accepts a byte order mark at the start of the file, and rejects one inside', async () => {
    const { rows, malformed } = await read(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n\uFEFF{"b":2}\n')]),
    );
    expect(rows).toEqual([{ a: 1 }]);
    expect(malformed).toMatchObject([{ line: 2, code: 'MALFORMED_ROW' }]);
  });

  it('rejects bytes that are not UTF-8 with the line shown exactly, instead of U+FFFD', async () => {
    const { rows, malformed } = await read(
      Buffer.concat([
        Buffer.from('{"name":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('"}\n{"name":"café"}\r\n'),
      ]),
    );
    expect(rows).toEqual([{ name: 'café' }]);
    expect(malformed).toEqual([
      {
        line: 1,
        code: 'NOT_UTF8',
        text: '{"name":"caf\\xe9"}',
        reason: 'not UTF-8: invalid byte \\xe9 (the line as read: {"name":"caf\\xe9"})',
      },
    ]);
  });

  it('rejects numbers JSON.parse would change: 1e999, integers beyond 2^53; keeps exact ones', async () => {
    const { rows, malformed } = await read(
      [
        '{"a":1e999}',
        '{"a":-1e999}',
        '{"id":12345678901234567891}',
        '{"id":1152921504606846976,"s":"12345678901234567891","f":1.5e300}',
        '{"n":NaN}',
      ].join('\n'),
    );
    expect(malformed.map((m) => [m.line, m.code])).toEqual([
      [1, 'NUMBER_OUT_OF_RANGE'],
      [2, 'NUMBER_OUT_OF_RANGE'],
      [3, 'INTEGER_NOT_EXACT'],
      [5, 'MALFORMED_ROW'],
    ]);
    expect(malformed[2]?.reason).toBe(
      'the integer 12345678901234567891 is beyond 2^53 and would be kept as 12345678901234567168; send it as a string',
    );
    // 2^60 is exactly a double; a long digit run inside a string is text; decimals are floats.
    expect(rows).toEqual([{ id: 2 ** 60, s: '12345678901234567891', f: 1.5e300 }]);
  });

  it('rejects a lone surrogate (UTF-8 cannot carry it) and keeps a pair', async () => {
    const { rows, malformed } = await read(
      '{"a":{"b":["ok","\\ud800"]}}\n{"\\udc00":1}\n{"e":"\\ud83d\\ude00"}\n',
    );
    expect(malformed.map((m) => [m.code, m.reason])).toEqual([
      ['LONE_SURROGATE', '$.a.b[1] holds a lone UTF-16 surrogate, which UTF-8 cannot carry'],
      ['LONE_SURROGATE', 'a key in $ holds a lone UTF-16 surrogate, which UTF-8 cannot carry'],
    ]);
    expect(rows).toEqual([{ e: '😀' }]);
  });

  it('reads a row 10,000 levels deep without overflowing', async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const { rows, malformed } = await read(`${deep}\n`);
    expect(malformed).toEqual([]);
    expect(rows).toHaveLength(1);
  });
});

describe('stringifyRow: no silent changes to the output', () => {
  it('refuses NaN, Infinity and BigInt instead of writing null or crashing', () => {
    expect(stringifyRow({ a: 1, b: null })).toEqual({ ok: true, value: '{"a":1,"b":null}' });
    expect(stringifyRow({ total: Number.NaN })).toEqual({
      ok: false,
      problem: {
        code: 'NOT_JSON_VALUE',
        reason: 'field "total" is NaN, which JSON cannot carry (it would be written as null)',
      },
    });
    expect(stringifyRow({ n: Number.POSITIVE_INFINITY }).ok).toBe(false);
    expect(stringifyRow({ n: 1n })).toMatchObject({ ok: false, problem: { code: 'NOT_JSON_VALUE' } });
    expect(stringifyForReport({ n: 1n, x: Number.NaN })).toBe('{"n":"1n","x":"NaN"}');
  });
});
