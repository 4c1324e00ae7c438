/**
 * A per-step figure of the Flow page with where it comes from, so the page can say in a tooltip
 * what the number is, or why there is none. `note` is a key of the UI's i18n table.
 */
export interface StepFigure {
  /** Milliseconds; null when genuinely unknown (`note` says why). */
  readonly value: number | null;
  readonly note: FigureNote;
  /** What the note needs: a run count, an error message. */
  readonly detail?: string;
}

export type FigureNote =
  /** Oldest ready or in-flight message of the input queue, read from fauxqs now; 0 when empty. */
  | 'ageFauxqs'
  /** AWS/SQS ApproximateAgeOfOldestMessage, Maximum over the last 5 min. */
  | 'ageCloudWatch'
  /** The SQS server is neither fauxqs nor AWS: nothing reports the age. */
  | 'ageUnsupported'
  /** The largest of the runs' p95 batch durations in the last 24 h (the ledger). */
  | 'p95Ledger'
  /** No run of the last 24 h timed a batch of this step. */
  | 'p95NoRuns'
  /** AWS/Lambda Duration p95 over the last 5 min. */
  | 'p95CloudWatch'
  /** The flow's dashboard names no Lambda for this step (an older or partial deploy). */
  | 'p95NoFunction'
  /** CloudWatch has no datapoint in the window (no invocation; an idle queue stops reporting). */
  | 'noDatapoints'
  /** Reading the figure failed: `detail` holds the error. */
  | 'readFailed';

export const unknown = (note: FigureNote, detail?: string): StepFigure => ({
  value: null,
  note,
  ...(detail === undefined ? {} : { detail }),
});
