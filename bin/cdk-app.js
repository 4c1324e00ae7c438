#!/usr/bin/env node
// The CDK app of a KisFlow project (cdk.json: `node node_modules/kisflow/bin/cdk-app.js`): the
// flows under the working directory's `flows/` (or `-c kisflow:dir=...`), one stack per flow.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./function-module-hooks.js', import.meta.url);
const { main } = await import('../infra/app.ts');
const code = await main();
// A failed cdk-nag check has already set exitCode 1 during synth: keep it.
if (code !== 0) process.exitCode = code;
