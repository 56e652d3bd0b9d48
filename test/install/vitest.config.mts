import { defineConfig } from 'vitest/config';

// `npm run test:install`: the packed tarball installed as users install it (test/install/).
// Not part of `npm test`, which runs the suites on both backends against the repository's build.
export default defineConfig({
  test: {
    include: ['test/install/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
