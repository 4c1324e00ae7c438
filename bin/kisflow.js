#!/usr/bin/env node
// The CLI is TypeScript and loads user functions written in TypeScript, so it runs under tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../kisflow/cli/main.ts');
