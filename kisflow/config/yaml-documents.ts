import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  visit,
} from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import type { ConfigDocument } from './config-document.ts';
import type { IssuePath } from './document-kind.ts';
import type { SourcePosition } from './model.ts';

/** A path as messages show it: relative to the cwd when inside it, else absolute. */
export function displayPath(absolute: string): string {
  const relative = path.relative(process.cwd(), absolute);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return absolute;
  return relative.split(path.sep).join('/');
}

const YAML_FILE = /\.ya?ml$/i;

/** Every YAML file under `dir`, sorted by path (code-point order, so the result never depends on the locale). */
async function yamlFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries) {
      // Hidden folders (.git) and installed packages are never config.
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (
        YAML_FILE.test(entry.name) &&
        (entry.isFile() || (entry.isSymbolicLink() && (await stat(full)).isFile()))
      ) {
        found.push(full);
      }
    }
  };
  await walk(dir);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/**
 * An alias inside the very node it names (`a: &x [*x]`): its value would contain itself, which
 * no config can mean and which every later walk over it (validation, JSON) would never finish.
 */
function recursiveAlias(doc: Document): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_, alias) {
      const target = alias.resolve(doc);
      const [start, end] = alias.range ?? [];
      const [from, to] = target?.range ?? [];
      if (start === undefined || end === undefined || from === undefined || to === undefined) return;
      if (start >= from && end <= to) {
        found = alias;
        return visit.BREAK;
      }
    },
  });
  return found;
}

/** Locates paths of one parsed YAML document through its syntax tree. */
function yamlDocument(doc: Document, value: unknown, file: string, lines: LineCounter): ConfigDocument {
  const at = (offset: number): SourcePosition => ({ file, ...lines.linePos(offset) });
  const start = (node: Node | null | undefined) => node?.range?.[0];
  const documentStart = start(doc.contents as Node) ?? 0;

  /** The node at `path`, its key, and how far the path got. */
  const walk = (path: IssuePath) => {
    let node = doc.contents as unknown;
    let key: unknown;
    let depth = 0;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      let nextKey: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(segment));
        if (!pair) break;
        next = pair.value;
        nextKey = pair.key;
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        next = node.items[segment];
      } else break;
      node = next;
      key = nextKey;
      depth++;
    }
    return {
      node: node as Node | null | undefined,
      key: key as Node | undefined,
      complete: depth === path.length,
      depth,
    };
  };

  return {
    value,
    file,
    has: (path) => walk(path).complete,
    position(path, part = 'value') {
      const { node, key, complete, depth } = walk(path);
      const keyStart = start(key);
      if (complete && part === 'value') {
        const range = node?.range;
        // An empty value (`load:`) has a zero-length node after the key: point at the key instead.
        if (range && range[1] > range[0]) return at(range[0]);
        return at(keyStart ?? range?.[0] ?? documentStart);
      }
      if (complete) return at(keyStart ?? start(node) ?? documentStart);
      if (depth === 0) return at(documentStart);
      return at(keyStart ?? start(node) ?? documentStart);
    },
  };
}

export interface YamlDocuments {
  readonly documents: ConfigDocument[];
  readonly issues: ConfigIssue[];
  /** A document could not be read, so ids it holds are unknown. */
  readonly incomplete: boolean;
}

/**
 * Reads every `*.yml`/`*.yaml` under `dir` (recursively, in sorted order), each document of each
 * file a ConfigDocument; YAML syntax errors come back located as issues.
 *
 * @example
 * const { documents, issues } = await readYamlDocuments('flows');
 */
export async function readYamlDocuments(dir: string): Promise<YamlDocuments> {
  const absolute = path.resolve(dir);
  const shown = displayPath(absolute);
  let files: string[];
  try {
    const info = await stat(absolute);
    files = info.isDirectory() ? await yamlFiles(absolute) : [absolute];
  } catch {
    return {
      documents: [],
      issues: [
        {
          file: shown,
          message: `directory not found: ${absolute}; pass the folder holding your YAML (e.g. flows)`,
        },
      ],
      incomplete: true,
    };
  }
  if (files.length === 0) {
    return {
      documents: [],
      issues: [{ file: shown, message: 'no YAML files (*.yml, *.yaml) found here' }],
      incomplete: true,
    };
  }
  const documents: ConfigDocument[] = [];
  const issues: ConfigIssue[] = [];
  let incomplete = false;
  for (const full of files) {
    const file = displayPath(full);
    let text: string;
    try {
      text = await readFile(full, 'utf8');
    } catch (error) {
      issues.push({ file, message: `cannot read the file: ${(error as Error).message}` });
      incomplete = true;
      continue;
    }
    const lines = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true });
    for (const doc of parsed) {
      if (doc.errors.length > 0) {
        incomplete = true;
        for (const error of doc.errors) {
          issues.push({
            file,
            ...lines.linePos(error.pos[0]),
            message: `YAML syntax error: ${error.message}`,
          });
        }
        continue;
      }
      const recursive = recursiveAlias(doc);
      if (recursive !== undefined) {
        issues.push({
          file,
          ...lines.linePos(recursive.range?.[0] ?? 0),
          message: `YAML error: the alias ${String(recursive)} refers to a node that contains it (a recursive alias); write the value out, or point the alias at a node outside it`,
        });
        incomplete = true;
        continue;
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 1000 });
      } catch (error) {
        const offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
        issues.push({ file, ...lines.linePos(offset), message: `YAML error: ${(error as Error).message}` });
        incomplete = true;
        continue;
      }
      // Empty documents (a trailing `---`, a file of comments) describe nothing.
      if (value === null || value === undefined) continue;
      documents.push(yamlDocument(doc, value, file, lines));
    }
  }
  return { documents, issues, incomplete };
}
