// Runs the agent role in a child process (tests of its exit codes and signals): `node tools/run.mjs
// apps/traffic-manager/src/agent/testing/agent-main.ts` with the agent's environment.
import { runAgent } from '../run.js';

void runAgent(process.env);
