import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The native engine is multi-threaded itself; forks keep one libtorch per test file.
    pool: 'forks',
    maxWorkers: 2,
  },
});
