// lint-as: apps/root-daemon/src/main.ts expect: @nx/enforce-module-boundaries
// An app's non-test code importing a build tool: apps may only use shared libs.
import { workspaceRoot } from '@tel/genversion';

export const leaked = workspaceRoot;
