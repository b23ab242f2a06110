// lint-as: libs/errors/src/index.ts expect: @nx/enforce-module-boundaries
// A shared library reaching into an app: libs may only use other libs.
import { run } from '../../../apps/cli/src/cli/run.js';

export const leaked = run;
