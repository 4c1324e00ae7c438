/**
 * `kisflow run`'s JSON Lines reader, which refuses what JSON.parse would change (bad UTF-8,
 * 1e999, integers beyond 2^53, lone surrogates), against the reader it replaced: readline over a
 * UTF-8 stream and a bare JSON.parse per line. Same file, same rows; best of a few rounds each.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readJsonLines } from '../kisflow/cli/jsonl.ts';

async function plainReader(file: string): Promise<number> {
  let rows = 0;
  for await (const text of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (text.trim() !== '') {
      JSON.parse(text);
      rows++;
    }
  }
  return rows;
}

export async function run(print: (line: string) => void, options: { rows?: number; rounds?: number } = {}) {
  const n = options.rows ?? 200_000;
  const rounds = options.rounds ?? 5;
  const dir = await mkdtemp(join(tmpdir(), 'kisflow-bench-jsonl-'));
  const file = join(dir, 'rows.jsonl');
  // Rows like the examples', with a long id so every line takes the number check's slow path.
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      order_id: `o-${i}`,
      user_id: `u-${i % 97}`,
      sku: 'kettle',
      price: 8.5 + (i % 10),
      qty: 1 + (i % 4),
      ref: 1_000_000_000_000_000 + i,
      note: 'thé vert',
    }),
  );
  await writeFile(file, `${lines.join('\n')}\n`);
  try {
    const contenders = {
      exact: async () => (await readJsonLines(file)).rows.length,
      plain: () => plainReader(file),
    };
    const best: Record<string, number> = {};
    for (const body of Object.values(contenders)) await body(); // warm-up
    for (let i = 0; i < rounds; i++) {
      for (const [name, body] of Object.entries(contenders)) {
        const t = performance.now();
        const read = await body();
        const ms = performance.now() - t;
        if (read !== n) throw new Error(`${name} read ${read} rows, expected ${n}`);
        best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ms);
      }
    }
    const rate = (ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} rows/s`;
    print(`${n.toLocaleString('en-US')} rows of JSON Lines, best of ${rounds} rounds`);
    print(`  exact reader (kisflow run):          ${rate(best.exact as number)}`);
    print(`  readline + JSON.parse (the old one): ${rate(best.plain as number)}`);
    print(`  ratio exact / old: ${((best.plain as number) / (best.exact as number)).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
