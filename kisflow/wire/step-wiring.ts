// zod/mini: the handler parses its wiring at cold start; classic zod would cost bundle size and init time.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { KisFlowError } from '../errors.ts';

z.config(en());

/**
 * What a deployed step needs to know about the resources around it. The CDK app (and `kisflow
 * dev`) put it as JSON in the `KISFLOW_WIRING` environment variable; it holds names and URLs
 * only, never secrets.
 */
export const WIRING_ENV = 'KISFLOW_WIRING';

// Not strict: a newer CDK app may add fields an older handler does not read yet.
const wiringSchema = z.object({
  /**
   * This step's own input queue URL, for ChangeMessageVisibility (retry backoff).
   * @default - looked up once from the event's queue ARN with GetQueueUrl
   */
  inputQueue: z.optional(z.string().check(z.minLength(1))),
  /** Queue URL per step this step may send to (the next step, `jumpTo` targets), keyed by step index or step key. */
  stepQueues: z.record(z.string(), z.string().check(z.minLength(1))),
  /** Where the flow's last step sends its rows. */
  outputQueue: z.optional(z.string().check(z.minLength(1))),
  /** This step's own dead-letter queue: rejected rows and exhausted messages go there with a reason. */
  deadLetterQueue: z.string().check(z.minLength(1)),
  /** Table name per connector id this step may use. */
  connectorTables: z.record(z.string(), z.string().check(z.minLength(1))),
  /** Table of keyed state (stateful functions). */
  stateTable: z.optional(z.string().check(z.minLength(1))),
  /** The run ledger's table (kisflow/aws/dynamodb-run-ledger.ts): every batch is recorded there. @default - runs are not recorded */
  runsTable: z.optional(z.string().check(z.minLength(1))),
  /** The deployment's job-control queue: a batch that ends its run says so there (`run-ended`). @default - nobody is told; the repair pass finds the end */
  controlQueue: z.optional(z.string().check(z.minLength(1))),
  /** The input queue's maxReceiveCount: the last attempt dead-letters with its reason. */
  maxReceiveCount: z.int().check(z.positive()),
  /** Packing limit for outgoing messages in bytes. */
  maxMessageBytes: z.int().check(z.positive()),
  /** CloudWatch namespace for EMF metrics. */
  metricsNamespace: z.string().check(z.minLength(1)),
});

export type StepWiring = z.infer<typeof wiringSchema>;

/**
 * Checks a wiring object (or its JSON text, as `KISFLOW_WIRING` holds it) when a handler starts,
 * so a wrong deployment fails at init with every problem named, never later on a missing field.
 *
 * @throws KisFlowError `WIRING_INVALID` naming each bad field.
 * @example
 * const wiring = parseWiring(process.env[WIRING_ENV] ?? '');
 */
export function parseWiring(input: unknown): StepWiring {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new KisFlowError(
        'WIRING_INVALID',
        `${WIRING_ENV} is not JSON: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
  }
  const parsed = wiringSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.length === 0 ? '(wiring)' : i.path.map(String).join('.')}: ${i.message}`,
    );
    throw new KisFlowError(
      'WIRING_INVALID',
      `The step wiring is not valid: ${issues.join('; ')}. The CDK app and \`kisflow dev\` write it; redeploy with the same KisFlow version as the handler.`,
      { issues },
    );
  }
  return parsed.data;
}
