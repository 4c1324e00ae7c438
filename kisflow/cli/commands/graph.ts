import type { Command } from 'commander';
import { loadProject, type ProjectConfig } from '../../config/index.ts';
import { UsageError } from '../../errors.ts';

const MODE_LETTER = { Verify: 'V', Save: 'S', Load: 'L', Calculate: 'C', Expand: 'E' } as const;

/** Mermaid node ids must be ASCII; labels keep the real (possibly non-ASCII) ids. */
function nodeIds() {
  const ids = new Map<string, string>();
  return (key: string) => {
    const known = ids.get(key);
    if (known) return known;
    const id = `n${ids.size}`;
    ids.set(key, id);
    return id;
  };
}

const label = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;

/** Mermaid text of flows, their steps, the connectors that join them, and the jobs that start them. */
export function renderGraph(project: ProjectConfig, flowIds: readonly string[]): string {
  const id = nodeIds();
  const lines = ['flowchart LR'];
  const links: string[] = [];
  const usedConns = new Set<string>();
  for (const flowId of flowIds) {
    const flow = project.flows.get(flowId);
    if (!flow) continue;
    lines.push(`  subgraph ${id(`flow:${flowId}`)}[${label(`${flowId}${flow.enabled ? '' : ' (off)'}`)}]`);
    flow.steps.forEach((step, i) => {
      const func = project.funcs.get(step.fid);
      const mode = func ? MODE_LETTER[func.fmode] : '?';
      lines.push(`    ${id(`${flowId}#${i}`)}[${label(`${i}. ${step.fid} (${mode})`)}]`);
      if (i > 0) links.push(`  ${id(`${flowId}#${i - 1}`)} --> ${id(`${flowId}#${i}`)}`);
      if (func?.cid) {
        usedConns.add(func.cid);
        if (func.fmode === 'Load')
          links.push(`  ${id(`conn:${func.cid}`)} -. load .-> ${id(`${flowId}#${i}`)}`);
        else
          links.push(
            `  ${id(`${flowId}#${i}`)} -. ${func.fmode.toLowerCase()} .-> ${id(`conn:${func.cid}`)}`,
          );
      }
    });
    lines.push('  end');
    for (const job of project.jobs.values()) {
      if (job.flowId !== flowId) continue;
      lines.push(`  ${id(`job:${job.jobId}`)}([${label(`${job.jobId}: ${job.schedule}`)}])`);
      links.push(`  ${id(`job:${job.jobId}`)} --> ${id(`${flowId}#0`)}`);
    }
  }
  for (const cid of usedConns) {
    const conn = project.conns.get(cid);
    lines.push(`  ${id(`conn:${cid}`)}[(${label(`${cid} (${conn?.type ?? '?'})`)})]`);
  }
  return `${[...lines, ...links].join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('graph')
    .description('print a Mermaid diagram of flows, their steps and the connectors that join them')
    .argument('[flow_id]', 'only this flow (default: all)')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .action(async (flowId: string | undefined, opts: { dir: string }) => {
      const project = await loadProject(opts.dir);
      if (flowId !== undefined && !project.flows.has(flowId)) {
        throw new UsageError(
          'UNKNOWN_FLOW',
          `no flow "${flowId}" in ${opts.dir} (flows: ${[...project.flows.keys()].join(', ')})`,
        );
      }
      process.stdout.write(renderGraph(project, flowId === undefined ? [...project.flows.keys()] : [flowId]));
    });
}
