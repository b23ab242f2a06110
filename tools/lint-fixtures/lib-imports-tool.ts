// lint-as: libs/errors/src/index.ts expect: @nx/enforce-module-boundaries
// A scope:shared library importing a scope:tools project through its alias.
import { bundleApp } from '@tel/build';

export const leaked = bundleApp;
