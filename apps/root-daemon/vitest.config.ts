// Unit tests for the root daemon: no namespaces, no root networking; e2e specs run under `e2e`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    exclude: ['src/**/*.e2e.spec.ts', 'node_modules/**'],
  },
});
