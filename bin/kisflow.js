#!/usr/bin/env node
// The CLI is TypeScript and loads user functions written in TypeScript, so it runs under tsx's loader.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./function-module-hooks.js', import.meta.url);
await import('../kisflow/cli/main.ts');
