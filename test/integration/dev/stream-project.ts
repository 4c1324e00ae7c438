import type { Row } from '../../../kisflow/ports.ts';

/**
 * A 3-step project for the crash tests: Verify (rows without `amount` are rejected), a step that
 * sleeps per batch (so batches are in flight when the process dies), Expand. Small messages, so
 * 2,000 rows are many batches at every step.
 */
export const STREAM_PROJECT: Record<string, string> = {
  'flows/stream.yml': `kistype: func
fid: check_row
fmode: Verify
source: { name: test, must: [tx_id, amount] }
---
kistype: func
fid: slow_pass
fmode: Calculate
option: { retry_times: 3, retry_duration: 500, default_params: { sleep_ms: 150 } }
---
kistype: func
fid: emit_row
fmode: Expand
---
kistype: flow
flow_id: stream
status: 1
flows:
  - fid: check_row
  - fid: slow_pass
  - fid: emit_row
tuning: { batch_size: 5, max_message_bytes: 4096, timeout: 2 }
`,
  'functions/check_row.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((_rows, ctx) => ctx.reuse());
`,
  'functions/slow_pass.ts': `import { defineFunction } from 'kisflow';
export default defineFunction(async (rows, ctx) => {
  await new Promise((resolve) => setTimeout(resolve, Number(ctx.params.sleep_ms)));
  for (const row of rows) ctx.commit({ ...row, passed: true });
});
`,
  'functions/emit_row.ts': `import { defineFunction } from 'kisflow';
export default defineFunction((_rows, ctx) => ctx.reuse());
`,
};

/** 2,000 rows; every 100th lacks `amount` (rejected by Verify, so dead-lettered with a reason). */
export function streamRows(tag: string, n = 2000): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    tx_id: `${tag}-${String(i).padStart(4, '0')}`,
    ...(i % 100 === 99 ? {} : { amount: i }),
  }));
}
