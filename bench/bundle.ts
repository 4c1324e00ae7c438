/**
 * Lambda bundles: `npm run bench bundle`, or standalone `node bin/run-ts.js bench/bundle.ts`.
 *
 * Bundles every step of the example flows exactly as the CDK app does (the generated entry,
 * infra/bundling.ts's esbuild settings), with the AWS SDK external (the default: the runtime
 * provides it) and bundled, and prints per step:
 * - the size of `index.mjs` (target: at most 250 KB);
 * - module init time: a fresh `node` process importing the bundle, median of several runs,
 *   against a hello-world handler bundled the same way that creates the same SDK clients
 *   (SQS and DynamoDB) and nothing else (target: at most 1.3x).
 * The largest packages of the first bundle are listed, because size is where init time goes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { stepEsbuildOptions } from '../infra/bundling.ts';
import { defaultEntriesDir, writeStepEntry } from '../infra/step-entry.ts';
import { loadProject } from '../kisflow/config/index.ts';

const SIZE_TARGET_BYTES = 250 * 1024;
const INIT_TARGET_RATIO = 1.3;
const RUNS = 5;

/** What a deployed step's environment holds at init (values are never contacted). */
const LAMBDA_ENV = {
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'KisFlowBench',
  POWERTOOLS_SERVICE_NAME: 'kisflow',
  KISFLOW_WIRING: JSON.stringify({
    inputQueue: 'https://sqs.eu-central-1.amazonaws.com/000000000000/bench-s0',
    stepQueues: { '1': 'https://sqs.eu-central-1.amazonaws.com/000000000000/bench-s1' },
    outputQueue: 'https://sqs.eu-central-1.amazonaws.com/000000000000/bench-out',
    deadLetterQueue: 'https://sqs.eu-central-1.amazonaws.com/000000000000/bench-s0-dlq',
    connectorTables: {},
    stateTable: 'bench-state',
    maxReceiveCount: 1,
    maxMessageBytes: 262144,
    metricsNamespace: 'KisFlowBench',
  }),
};

const HELLO = [
  "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
  "import { SQSClient } from '@aws-sdk/client-sqs';",
  '',
  '// The baseline: the SDK clients a step creates at init, and a handler that does nothing.',
  'const clients = [new SQSClient({}), new DynamoDBClient({})];',
  'export const handler = async () => ({ batchItemFailures: [], clients: clients.length });',
  '',
].join('\n');

interface Bundle {
  readonly file: string;
  readonly bytes: number;
  readonly metafile: Metafile;
}

async function bundle(entry: string, outDir: string, bundleAwsSdk: boolean): Promise<Bundle> {
  const file = join(outDir, 'index.mjs');
  const result = await build({
    ...stepEsbuildOptions({ bundleAwsSdk }),
    entryPoints: [entry],
    outfile: file,
    metafile: true,
    logLevel: 'error',
  });
  return { file, bytes: statSync(file).size, metafile: result.metafile };
}

/** Milliseconds to import the bundle in a fresh node process (the Lambda's module init). */
function initMs(file: string): number {
  const script =
    'const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));';
  const out = execFileSync(
    process.execPath,
    ['--enable-source-maps', '--input-type=module', '-e', script, pathToFileURL(file).href],
    // stderr is kept from the console (the SDK warns about Node 20 on every start) but still shown
    // in the error if the import fails.
    {
      env: { ...process.env, ...LAMBDA_ENV, NODE_OPTIONS: '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return Number(out);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median init of each file, runs interleaved so machine noise hits all of them alike. */
function medianInits(files: readonly string[], runs: number): number[] {
  const samples = files.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, file] of files.entries()) samples[i]?.push(initMs(file));
  }
  return samples.map(median);
}

function largestPackages(metafile: Metafile, top: number): string {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const inModules = path.split('node_modules/').pop() as string;
      const name = path.includes('node_modules/')
        ? inModules
            .split('/')
            .slice(0, inModules.startsWith('@') ? 2 : 1)
            .join('/')
        : path.split('/').slice(0, 2).join('/');
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => `${name} ${kb(bytes)}`)
    .join(', ');
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10_240 ? 1 : 0)} KB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;
const pad = (text: string, width: number) => text.padEnd(width);

export async function run(print: (line: string) => void, options: { dir?: string; runs?: number } = {}) {
  const root = process.cwd();
  const runs = options.runs ?? RUNS;
  const project = await loadProject(options.dir ?? 'flows', { root });
  const work = resolve(root, 'cdk.out', '.kisflow-bench');
  mkdirSync(work, { recursive: true });
  const helloEntry = join(work, 'hello.ts');
  writeFileSync(helloEntry, HELLO);

  const steps: { label: string; entry: string }[] = [];
  for (const flow of project.flows.values()) {
    if (!flow.enabled) continue;
    flow.steps.forEach((spec, step) => {
      const { path } = writeStepEntry({ project, flowId: flow.flowId, step, dir: defaultEntriesDir(root) });
      steps.push({ label: `${flow.flowId} s${step} ${spec.fid}`, entry: path });
    });
  }
  print(
    `${steps.length} step bundles of ${options.dir ?? 'flows'}/, esbuild as the CDK runs it; init = median of ${runs} fresh node processes importing the bundle`,
  );

  let pass = 0;
  let checks = 0;
  for (const bundleAwsSdk of [false, true]) {
    const mode = bundleAwsSdk ? 'SDK bundled' : 'SDK external (the default; the Lambda runtime provides it)';
    const hello = await bundle(helloEntry, join(work, bundleAwsSdk ? 'hello-sdk' : 'hello'), bundleAwsSdk);
    const bundles: Bundle[] = [];
    for (const [i, s] of steps.entries()) {
      bundles.push(await bundle(s.entry, join(work, `${bundleAwsSdk ? 'sdk' : 'ext'}-${i}`), bundleAwsSdk));
    }
    const [helloInit = 0, ...inits] = medianInits([hello.file, ...bundles.map((b) => b.file)], runs);
    print('');
    print(`-- ${mode}`);
    print(
      `${pad('hello world (SQS + DynamoDB clients)', 44)} ${pad(kb(hello.bytes), 8)} init ${pad(ms(helloInit), 7)}`,
    );
    for (const [i, s] of steps.entries()) {
      const b = bundles[i] as Bundle;
      const init = inits[i] ?? 0;
      const ratio = init / helloInit;
      const sizeOk = b.bytes <= SIZE_TARGET_BYTES;
      const initOk = ratio <= INIT_TARGET_RATIO;
      checks += 2;
      pass += Number(sizeOk) + Number(initOk);
      print(
        `${pad(s.label, 44)} ${pad(kb(b.bytes), 8)}${sizeOk ? ' ' : '!'} init ${pad(ms(init), 7)} ${ratio.toFixed(2)}x hello${initOk ? '' : ' !'}`,
      );
    }
    const first = bundles[0];
    if (first)
      print(`largest in ${relative(root, steps[0]?.entry ?? '')}: ${largestPackages(first.metafile, 6)}`);
  }
  print('');
  print(
    `targets (size <= ${kb(SIZE_TARGET_BYTES)}, init <= ${INIT_TARGET_RATIO}x hello): ${pass} of ${checks} met ('!' marks a miss)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run((line) => process.stdout.write(`${line}\n`));
}
