#!/usr/bin/env node
// Runs a TypeScript entry (benchmarks, scripts) under tsx's loader: `node bin/run-ts.js file.ts [args]`.
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const [entry, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], entry, ...rest];
await import(pathToFileURL(entry).href);
