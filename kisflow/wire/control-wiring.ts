// zod/mini, as the step wiring: parsed at the job-control Lambda's cold start.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { KisFlowError } from '../errors.ts';

z.config(en());

/** The environment variable the CDK app puts the job-control wiring in (JSON, names and URLs only). */
export const CONTROL_WIRING_ENV = 'KISFLOW_CONTROL_WIRING';

// Not strict, as the step wiring: a newer app may add fields an older handler does not read.
const controlWiringSchema = z.object({
  /** The control queue itself: delayed `retry` messages go back to it. */
  controlQueue: z.string().check(z.minLength(1)),
  /** Where a message no retry can fix goes, with its reason. */
  deadLetterQueue: z.string().check(z.minLength(1)),
  runsTable: z.string().check(z.minLength(1)),
  /**
   * The deployment's name prefix. A started run's ticks go to its flow's first step queue, named
   * by convention (config/names.ts) beside the control queue: the wiring stays the same size
   * however many flows have jobs (Lambda allows 4 KB of environment in all).
   */
  prefix: z.string().check(z.minLength(1)),
  /** The alert topic. @default - alerts are logged only */
  alertTopic: z.optional(z.string().check(z.minLength(1))),
});

export type ControlWiring = z.infer<typeof controlWiringSchema>;

/** @throws KisFlowError `WIRING_INVALID` naming each bad field. */
export function parseControlWiring(input: unknown): ControlWiring {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new KisFlowError(
        'WIRING_INVALID',
        `${CONTROL_WIRING_ENV} is not JSON: ${(err as Error).message}`,
      );
    }
  }
  const parsed = controlWiringSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.map(String).join('.') || '(wiring)'}: ${i.message}`,
    );
    throw new KisFlowError(
      'WIRING_INVALID',
      `The job-control wiring is not valid: ${issues.join('; ')}. The CDK app and \`kisflow dev\` write it; redeploy the shared stack.`,
      { issues },
    );
  }
  return parsed.data;
}
