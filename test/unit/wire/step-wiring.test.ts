import { describe, expect, it } from 'vitest';
import { KisFlowError } from '../../../kisflow/errors.ts';
import { destinationQueue } from '../../../kisflow/wire/destination.ts';
import { parseWiring } from '../../../kisflow/wire/step-wiring.ts';

const wiring = {
  stepQueues: { 1: 'q1' },
  deadLetterQueue: 'dlq0',
  connectorTables: {},
  maxReceiveCount: 5,
  maxMessageBytes: 262_144,
  metricsNamespace: 'KisFlow',
};

describe('parseWiring', () => {
  it('accepts the wiring the CDK app writes, as an object or as its JSON text', () => {
    expect(parseWiring(wiring)).toEqual(wiring);
    expect(parseWiring(JSON.stringify(wiring))).toEqual(wiring);
  });

  it('names every bad field instead of failing later on one', () => {
    const error = (() => {
      try {
        parseWiring({ ...wiring, deadLetterQueue: undefined, maxReceiveCount: 0 });
      } catch (e) {
        return e;
      }
    })() as KisFlowError;
    expect(error).toBeInstanceOf(KisFlowError);
    expect(error.code).toBe('WIRING_INVALID');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/deadLetterQueue/);
    expect(error.message).toMatch(/maxReceiveCount/);
  });

  it('says when the environment variable is not JSON', () => {
    expect(() => parseWiring('{oops')).toThrow(/KISFLOW_WIRING is not JSON/);
  });
});

describe('destinationQueue', () => {
  const queues = { stepQueues: ['q0', 'q1'], outputQueue: 'out', deadLetterQueues: ['d0', 'd1'] };
  it('maps each kind of destination to its queue, and an unknown one to undefined', () => {
    expect(destinationQueue(queues, { kind: 'step', flowId: 'f', step: 1 })).toBe('q1');
    expect(destinationQueue(queues, { kind: 'output', flowId: 'f' })).toBe('out');
    expect(destinationQueue(queues, { kind: 'rejected', flowId: 'f', step: 0 })).toBe('d0');
    expect(destinationQueue(queues, { kind: 'step', flowId: 'f', step: 2 })).toBeUndefined();
    // A step's wiring: queues keyed by index as strings.
    expect(
      destinationQueue(
        { stepQueues: wiring.stepQueues, deadLetterQueues: { 0: 'dlq0' } },
        { kind: 'step', flowId: 'f', step: 1 },
      ),
    ).toBe('q1');
  });
});
