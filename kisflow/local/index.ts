/**
 * Running KisFlow on one machine: the emulator-backed dev stack (`kisflow dev`) and its parts —
 * the SQS poller that plays Lambda's event source mapping, the job scheduler that plays
 * EventBridge Scheduler, and the Prometheus endpoint.
 */
export { type DevStack, type DevStackOptions, devWiring, startDevStack } from './dev-stack.ts';
export { type Poller, type PollerOptions, type SqsEventHandler, startPoller } from './poller.ts';
export { type PrometheusServer, type PrometheusSource, startPrometheusServer } from './prometheus.ts';
export {
  locateResources,
  type ProvisionedResources,
  type ProvisionOptions,
  provisionProject,
} from './provision.ts';
export {
  nextRuns,
  parseSchedule,
  type Schedule,
  type Scheduler,
  type SchedulerOptions,
  startScheduler,
  tickBatch,
} from './scheduler.ts';
