/**
 * What a deployed step needs to know about the resources around it. The CDK app (and `kisflow
 * dev`) put it as JSON in the `KISFLOW_WIRING` environment variable; it holds names and URLs
 * only, never secrets.
 */
export const WIRING_ENV = 'KISFLOW_WIRING';

export interface StepWiring {
  /**
   * This step's own input queue URL, for ChangeMessageVisibility (retry backoff).
   * @default - looked up once from the event's queue ARN with GetQueueUrl
   */
  readonly inputQueue?: string;
  /** Queue URL per step index this step may send to (the next step, `jumpTo` targets). */
  readonly stepQueues: Readonly<Record<string, string>>;
  /** Where the flow's last step sends its rows. */
  readonly outputQueue?: string;
  /** This step's own dead-letter queue: rejected rows and exhausted messages go there with a reason. */
  readonly deadLetterQueue: string;
  /** Table name per connector id this step may use. */
  readonly connectorTables: Readonly<Record<string, string>>;
  /** Table of keyed state (stateful functions). */
  readonly stateTable?: string;
  /** The input queue's maxReceiveCount (retry_times + 1): the last attempt dead-letters with its reason. */
  readonly maxReceiveCount: number;
  /** Packing limit for outgoing messages in bytes. */
  readonly maxMessageBytes: number;
  /** CloudWatch namespace for EMF metrics. */
  readonly metricsNamespace: string;
}
