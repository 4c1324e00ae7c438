import { defineFunction } from 'kisflow';

// Save mode: the framework stores what this step passes on in the `orders` connector,
// keyed by order_id, where payment_settlement's load_order finds it.
export default defineFunction((_rows, ctx) => {
  ctx.reuse();
});
