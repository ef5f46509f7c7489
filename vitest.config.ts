import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/checks/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/conformance/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Builds share one machine (runc, overlay mounts, a registry): run files one at a time.
          fileParallelism: false,
          // Starts making the Debian base of the rootless Debian case in the background.
          globalSetup: ['test/helpers/e2e-global-setup.ts'],
        },
      },
    ],
  },
});
