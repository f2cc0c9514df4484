import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start processes and real servers; a slow CI machine must not flake them.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
