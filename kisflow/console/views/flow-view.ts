import { enabledFlow } from '../../cli/deployment.ts';
import type { FunctionMode, ProjectConfig } from '../../config/model.ts';
import type { ConsoleContext } from '../console-context.ts';
import type { StepFigure } from '../figures/figure.ts';
import { type StepFigures, stepFigures } from '../figures/step-figures.ts';
import { sumSteps } from './step-totals.ts';

const MODE_LETTER: Record<FunctionMode, string> = {
  Verify: 'V',
  Save: 'S',
  Load: 'L',
  Calculate: 'C',
  Expand: 'E',
};
const DAY = 86_400_000;

export interface FlowSummary {
  readonly flowId: string;
  readonly flowName: string;
  readonly enabled: boolean;
  /** `VSCE`: the modes of its steps in order. */
  readonly modes: string;
  readonly steps: number;
}

export function flowSummaries(project: ProjectConfig): FlowSummary[] {
  return [...project.flows.values()].map((f) => ({
    flowId: f.flowId,
    flowName: f.flowName,
    enabled: f.enabled,
    modes: f.steps.map((s) => MODE_LETTER[project.funcs.get(s.fid)?.fmode ?? 'Calculate']).join(''),
    steps: f.steps.length,
  }));
}

export interface FlowStepView {
  readonly index: number;
  readonly fid: string;
  readonly fname: string;
  readonly mode: string;
  readonly cid: string | null;
  /** Over the runs of the last 24 h. */
  readonly in: number;
  readonly out: number;
  readonly rejected: number;
  readonly deadLettered: number;
  readonly errors: number;
  /** Messages waiting in (and in flight from) the step's input queue now. */
  readonly backlog: number;
  readonly inFlight: number;
  /** Messages in the step's DLQ now. */
  readonly dlq: number;
  /** Age of the oldest message in the step's input queue (ms); null when unknown (see the figure). */
  readonly oldestAgeMs: number | null;
  /** The step's p95 duration (ms); null when unknown. */
  readonly p95Ms: number | null;
  /** Where the two figures come from, or why they are unknown (the page's tooltips). */
  readonly figures: { readonly oldestAge: StepFigure; readonly p95: StepFigure };
}

/** A connector this flow saves to or loads from, with the other flows it joins this one to. */
export interface FlowConnectorView {
  readonly cid: string;
  readonly cname: string;
  readonly type: string;
  /** Steps of this flow on it. */
  readonly steps: readonly { readonly index: number; readonly mode: 'save' | 'load' | 'other' }[];
  /** Other flows' steps on it: the composition across flows. */
  readonly others: readonly {
    readonly flowId: string;
    readonly fid: string;
    readonly mode: 'save' | 'load' | 'other';
  }[];
}

export interface FlowView {
  readonly flowId: string;
  readonly flowName: string;
  readonly steps: readonly FlowStepView[];
  readonly connectors: readonly FlowConnectorView[];
  readonly jobs: readonly { readonly jobId: string; readonly schedule: string }[];
}

const connMode = (mode: FunctionMode | undefined): 'save' | 'load' | 'other' =>
  mode === 'Save' ? 'save' : mode === 'Load' ? 'load' : 'other';

/** The Flow page: the graph's nodes with live counts and queue depths. */
export async function flowView(context: ConsoleContext, flowId: string): Promise<FlowView> {
  const project = await context.project();
  const flow = enabledFlow(project, flowId);
  const now = context.now();
  const listed = context.ledger.list({ flowId, since: now - DAY, limit: 100_000 });
  const [runs, depths, figures] = await Promise.all([
    listed,
    context.depths().then((all) => all.filter((d) => d.flowId === flowId)),
    stepFigures(
      context,
      flowId,
      flow.steps.map((s) => s.fid),
      listed,
    ),
  ]);
  const totals = sumSteps(runs);
  const depth = (kind: 'input' | 'dlq', step: number) =>
    depths.find((d) => d.kind === kind && d.step === step);
  const steps = flow.steps.map((s, index): FlowStepView => {
    const func = project.funcs.get(s.fid);
    const t = totals.get(`${flowId}#${index}`);
    const input = depth('input', index);
    const dlq = depth('dlq', index);
    const figure = figures[index] as StepFigures;
    return {
      index,
      fid: s.fid,
      fname: func?.fname ?? s.fid,
      mode: MODE_LETTER[func?.fmode ?? 'Calculate'],
      cid: func?.cid ?? null,
      in: t?.in ?? 0,
      out: t?.out ?? 0,
      rejected: t?.rejected ?? 0,
      deadLettered: t?.deadLettered ?? 0,
      errors: t?.errors ?? 0,
      backlog: input?.waiting ?? 0,
      inFlight: input?.inFlight ?? 0,
      dlq: (dlq?.waiting ?? 0) + (dlq?.inFlight ?? 0),
      oldestAgeMs: figure.oldestAge.value,
      p95Ms: figure.p95.value,
      figures: figure,
    };
  });
  const cids = [...new Set(steps.flatMap((s) => (s.cid === null ? [] : [s.cid])))];
  const connectors = cids.map((cid): FlowConnectorView => {
    const conn = project.conns.get(cid);
    const others = [...project.flows.values()]
      .filter((f) => f.flowId !== flowId)
      .flatMap((f) =>
        f.steps.flatMap((s) => {
          const func = project.funcs.get(s.fid);
          return func?.cid === cid ? [{ flowId: f.flowId, fid: s.fid, mode: connMode(func.fmode) }] : [];
        }),
      );
    return {
      cid,
      cname: conn?.cname ?? cid,
      type: conn?.type ?? 'dynamodb',
      steps: steps
        .filter((s) => s.cid === cid)
        .map((s) => ({ index: s.index, mode: connMode(project.funcs.get(s.fid)?.fmode) })),
      others,
    };
  });
  return {
    flowId,
    flowName: flow.flowName,
    steps,
    connectors,
    jobs: [...project.jobs.values()]
      .filter((j) => j.flowId === flowId)
      .map((j) => ({ jobId: j.jobId, schedule: j.schedule })),
  };
}
