// Module hooks (node:module register) that load a project's TypeScript as ES modules even when its
// package.json has no "type": "module". KisFlow functions are written with import/export; tsx
// would read such a file as CommonJS and its `import 'kisflow'` fails with "Cannot require() ES
// Module ... in a cycle". A package that says "type": "commonjs" keeps its choice.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPESCRIPT = /\.tsx?$/;
const typeOfDir = new Map();

/** The "type" of the nearest package.json above a file, or undefined when it has none. */
function packageType(dir) {
  if (typeOfDir.has(dir)) return typeOfDir.get(dir);
  let type;
  try {
    type = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? null;
  } catch (e) {
    type = e.code === 'ENOENT' && dirname(dir) !== dir ? packageType(dirname(dir)) : null;
  }
  typeOfDir.set(dir, type);
  return type;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (
    resolved.format === 'commonjs' &&
    resolved.url.startsWith('file:') &&
    TYPESCRIPT.test(resolved.url) &&
    !resolved.url.includes('/node_modules/') &&
    packageType(dirname(fileURLToPath(resolved.url))) === null
  ) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}
