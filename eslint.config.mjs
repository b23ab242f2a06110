// Rules that enforce themselves, run as every project's `lint` target (inferred by @nx/eslint from
// this file) and by scripts/test.sh: project boundaries from the `scope:*` tags in each
// project.json, a file-length limit, and no console output outside the CLI's output layer.
import nx from '@nx/eslint-plugin';
import tsParser from '@typescript-eslint/parser';

/**
 * Who may import whom. Apps are processes and share only libs; libs are shared by everyone, so
 * they may use nothing but other libs (never an app or a tool); tools build and test, using libs;
 * benchmarks drive everything.
 */
const depConstraints = [
  { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:tools', 'scope:shared'] },
  { sourceTag: 'scope:bench', onlyDependOnLibsWithTags: ['*'] },
];

/** Tests and test harnesses may also use the tools that bundle the apps and run the test cluster. */
const testDepConstraints = depConstraints.map((c) =>
  c.sourceTag === 'scope:app' || c.sourceTag === 'scope:shared' ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'scope:tools'] } : c,
);

const TEST_FILES = ['**/*.spec.ts', '**/e2e/**/*.ts', '**/testing/**/*.ts'];

/**
 * Imported though not a library: the test cluster is declared an application (it has up/down
 * targets of its own) but tests, benchmarks and the quickstart use it as one.
 */
const allow = ['@tel/testcluster'];

/** Line counts as `wc -l` shows them. */
const MAX_LINES = 400;

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench/results/**', 'tools/lint-fixtures/**'] },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.mjs'],
    languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' },
    plugins: { '@nx': nx },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { depConstraints, enforceBuildableLibDependency: false, allow }],
      // A file over ~400 lines is a design smell: split it by responsibility.
      'max-lines': ['error', { max: MAX_LINES, skipBlankLines: false, skipComments: false }],
      // Output goes through apps/cli/src/cli/output.ts; daemons log through @tel/logging.
      'no-console': 'error',
    },
  },
  {
    files: TEST_FILES,
    rules: {
      '@nx/enforce-module-boundaries': ['error', { depConstraints: testDepConstraints, enforceBuildableLibDependency: false, allow }],
      'no-console': 'off',
    },
  },
  // Where console output is the job: the CLI's output layer, build/release tools and benchmarks
  // (they print their results), and plain scripts.
  { files: ['apps/cli/src/cli/output.ts', 'tools/**', 'bench/**', '**/*.mjs'], rules: { 'no-console': 'off' } },
  {
    // These tests run the real traffic manager's servers (API, TCP tunnel) as the other end of the
    // client under test, the DNS benchmark drives the root daemon's resolver harness and the agent
    // router benchmark the traffic agent's data listener: each needs
    // another app's sources, which no library exports.
    files: [
      'apps/cli/src/userd/tcp-listener.spec.ts',
      'apps/cli/src/userd/manager-api.spec.ts',
      'apps/cli/src/userd/manager-session.spec.ts',
      'apps/cli/src/userd/intercepts/intercept-path.spec.ts',
      'apps/root-daemon/src/tunnel/stream-tunnel.spec.ts',
      'apps/root-daemon/src/proxy/tcp.spec.ts',
      'bench/dns/serve.ts',
      'bench/agent-router/serve.ts',
    ],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  // Per-file exceptions to the length limit, each with its reason.
  {
    // One protocol client: SPDY/3.1 framing, per-stream flow control and the stream lifecycle share
    // one connection's private state; split, each part would reach into the others' internals.
    files: ['apps/cli/src/kube/spdy.ts'],
    rules: { 'max-lines': ['error', { max: 450 }] },
  },
  {
    // One end-to-end scenario on a real kernel whose cases share one workstation/cluster namespace
    // set-up; a second file would repeat that set-up (and double the namespace churn).
    files: ['apps/root-daemon/src/network/network.e2e.spec.ts'],
    rules: { 'max-lines': ['error', { max: 420 }] },
  },
];
