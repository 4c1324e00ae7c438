import { defineFunction } from 'kisflow';

// Expand mode, the flow's sink: tags each row with the step's topic. The same function ends
// all three example flows, each step with its own `topic` param.
export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ ...row, topic: ctx.params.topic });
  ctx.metrics.count('published', rows.length);
});
