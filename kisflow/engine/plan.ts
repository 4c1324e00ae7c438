import { didYouMeanHint } from '../config/did-you-mean.ts';
import type { ConnSpec, FlowSpec, FuncSpec, Params, ProjectConfig } from '../config/model.ts';
import { ConnectorError, StepError } from '../errors.ts';

/** One step of a flow, resolved: its function's config, merged params and connector. */
export interface PlannedStep {
  /** 0-based position in the flow. */
  readonly index: number;
  readonly fid: string;
  readonly func: FuncSpec;
  /** The step's `params` over the function's `default_params` (frozen). */
  readonly params: Params;
  /** The function's connector (`option.cid`), when it has one. */
  readonly conn?: ConnSpec;
}

/**
 * A flow resolved against its project: the ordered steps with everything a step needs to run.
 * Built once per process; read-only.
 *
 * @example
 * const plan = FlowPlan.build(project, 'orders');
 * plan.steps[0].params; // default_params overlaid by the flow step's params
 */
export class FlowPlan {
  readonly flow: FlowSpec;
  readonly steps: readonly PlannedStep[];
  readonly #firstIndex: ReadonlyMap<string, number>;

  private constructor(flow: FlowSpec, steps: readonly PlannedStep[]) {
    this.flow = flow;
    this.steps = steps;
    const first = new Map<string, number>();
    for (const step of steps) if (!first.has(step.fid)) first.set(step.fid, step.index);
    this.#firstIndex = first;
  }

  /**
   * @throws StepError code `UNKNOWN_FLOW` (with a did-you-mean hint) when the project has no such flow,
   *   `UNKNOWN_FUNCTION` when a step names a function with no config;
   *   ConnectorError code `UNKNOWN_CONNECTOR` when a function names a connector with no config.
   */
  static build(project: ProjectConfig, flowId: string): FlowPlan {
    const flow = project.flows.get(flowId);
    if (flow === undefined) {
      const known = [...project.flows.keys()];
      throw new StepError(
        'UNKNOWN_FLOW',
        `There is no flow '${flowId}'${didYouMeanHint(flowId, known)}. Flows: ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'none (add a `kistype: flow` document under flows/)'}.`,
        { flowId, known },
      );
    }
    const steps = flow.steps.map((spec, index): PlannedStep => {
      const func = project.funcs.get(spec.fid);
      if (func === undefined) {
        throw new StepError(
          'UNKNOWN_FUNCTION',
          `Step ${index} of flow '${flowId}' names function '${spec.fid}', which has no config${didYouMeanHint(spec.fid, project.funcs.keys())}. Add a \`kistype: func\` document with fid '${spec.fid}'.`,
          { flowId, step: index, fid: spec.fid },
        );
      }
      const params = Object.freeze({ ...func.defaultParams, ...spec.params });
      if (func.cid === undefined) return { index, fid: spec.fid, func, params };
      const conn = project.conns.get(func.cid);
      if (conn === undefined) {
        throw new ConnectorError(
          'UNKNOWN_CONNECTOR',
          `Function '${func.fid}' names connector '${func.cid}', which has no config${didYouMeanHint(func.cid, project.conns.keys())}. Add a \`kistype: conn\` document with cid '${func.cid}'.`,
          { flowId, step: index, fid: func.fid, cid: func.cid },
        );
      }
      return { index, fid: spec.fid, func, params, conn };
    });
    return new FlowPlan(flow, steps);
  }

  /** Index of the first step running `fid`, -1 if none. */
  indexOf(fid: string): number {
    return this.#firstIndex.get(fid) ?? -1;
  }
}
