import { describe, expect, it } from 'vitest';
import { streamRunId, streamRunMinute } from '../../../kisflow/wire/stream-run.ts';

describe('stream run ids', () => {
  it('carry the minute of arrival, which reads back as the bucket start', () => {
    const id = streamRunId('dynamodb_stream', Date.parse('2026-12-03T12:14:59.999Z'));
    expect(id).toBe('stream:dynamodb_stream@2026-12-03T12:14Z');
    expect(streamRunMinute(id)).toBe(Date.parse('2026-12-03T12:14:00Z'));
  });

  it('are told apart from every other run id, a tick of a job named like a source included', () => {
    for (const other of [
      'r1',
      'kafka@2026-12-03T12:00:00Z',
      'kinesis@2026-12-03T12',
      'stream:kinesis@soon',
    ]) {
      expect(streamRunMinute(other), other).toBeUndefined();
    }
  });
});
