// `telepresence config view`: the effective config.yml (defaults, then the file's keys) as YAML,
// `-o json` as JSON; 2.x keys of the file that have no effect here are named on stderr.
import { existsSync } from 'node:fs';
import { dump } from 'js-yaml';
import { configDocument, readConfig } from '../../config/config.js';
import { ignoredKeysWarning } from '../../config/keys-2x.js';
import { configFile } from '../../paths.js';
import { defineCommand } from '../command.js';

const viewCommand = defineCommand({
  name: 'view',
  description: 'Show the effective configuration (defaults and config.yml)',
  requires: 'none',
  async run(ctx) {
    const file = configFile(ctx.env);
    const { config, ignored } = readConfig(file);
    const warning = ignoredKeysWarning(file, ignored);
    if (warning) ctx.out.notice(warning);
    const doc = configDocument(config);
    ctx.out.result(doc, () => `# defaults${existsSync(file) ? ` and ${file}` : ` (${file} does not exist)`}\n${dump(doc, { lineWidth: -1, noRefs: true }).trimEnd()}`);
  },
});

export const configCommand = defineCommand({
  name: 'config',
  description: 'Show the configuration telepresence uses',
  requires: 'none',
  subcommands: [viewCommand],
});
