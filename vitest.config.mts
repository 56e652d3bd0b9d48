import { configDefaults, defineConfig } from 'vitest/config';

// Every suite runs twice: once on the native addon (all ISA levels the CPU has, switched inside the
// suites that compare them) and once on the TypeScript fallback, like bufferutil's bindings and
// fallback runs. SIMD_OPTIM_BACKEND=native makes a missing addon fail the run instead of silently
// testing the fallback twice.
export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    // test/install packs and installs the package: `npm run test:install` (its own config).
    exclude: [...configDefaults.exclude, 'test/install/**'],
    testTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'native', env: { SIMD_OPTIM_BACKEND: 'native' } } },
      { extends: true, test: { name: 'js', env: { SIMD_OPTIM_BACKEND: 'js' } } },
    ],
  },
});
