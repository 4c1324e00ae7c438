/**
 * `npm run bench [-- scenario ...]`: every figure is measured in this one run and printed with
 * its baseline and ratio, because these machines are too noisy for absolute numbers.
 */
type Scenario = { run(print: (line: string) => void): Promise<void> };

const scenarios: Record<string, { title: string; load: () => Promise<Scenario> }> = {
  engine: { title: 'Engine: 5-step flow vs hand-composed functions', load: () => import('./engine.ts') },
  packing: {
    title: 'SQS: requests per hop vs the size-limit minimum',
    load: () => import('./sqs-packing.ts'),
  },
  dev: {
    title: 'kisflow dev on the emulators: end to end, poison rows',
    load: () => import('./dev-throughput.ts'),
  },
  bundle: { title: 'Lambda bundles: size and module init time', load: () => import('./bundle.ts') },
  jsonl: {
    title: 'kisflow run input: the exact JSON Lines reader vs readline + JSON.parse',
    load: () => import('./jsonl.ts'),
  },
  ordering: {
    title: 'kisflow dev: a flow ordered per key (FIFO queues) vs the same flow unordered',
    load: () => import('./ordering.ts'),
  },
  kinesis: {
    title: 'kisflow dev Kinesis mapping vs a raw SDK put/get loop on kinesalite',
    load: () => import('./kinesis.ts'),
  },
  ledger: {
    title: 'Run ledger on DynamoDB: exact completion vs one ADD per batch',
    load: () => import('./run-ledger.ts'),
  },
  accounting: {
    title: 'kisflow dev with run accounting on vs off: throughput and DynamoDB requests per message',
    load: () => import('./accounting.ts'),
  },
  console: {
    title: 'kisflow console: Overview page load with 1,000 runs recorded',
    load: () => import('./console.ts'),
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in scenarios));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario(s): ${unknown.join(', ')}; choose from ${Object.keys(scenarios).join(', ')}\n`,
  );
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(scenarios)) {
  const scenario = scenarios[name];
  if (!scenario) continue;
  process.stdout.write(`\n== ${name}: ${scenario.title}\n`);
  const { run } = await scenario.load();
  await run((line) => process.stdout.write(`${line}\n`));
}

export {};
