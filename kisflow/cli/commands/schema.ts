import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { configJsonSchema } from '../../config/index.ts';

export function register(program: Command): void {
  program
    .command('schema')
    .description('write the JSON Schema of KisFlow YAML documents (for editor completion and checks)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { out?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });
}
