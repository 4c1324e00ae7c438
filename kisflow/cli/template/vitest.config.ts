import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // kisflow ships TypeScript: let vitest transform it rather than hand it to Node as is.
    server: { deps: { inline: ['kisflow'] } },
  },
});
