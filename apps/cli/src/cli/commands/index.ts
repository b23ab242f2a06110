// Every CLI command, in help order.
import type { AnyCommand } from '../command.js';
import { completionCommand } from './completion.js';
import { configCommand } from './config.js';
import { connectCommand } from './connect.js';
import { connectorForegroundCommand } from './connector-foreground.js';
import { gatherLogsCommand } from './gather-logs.js';
import { helmCommand } from './helm.js';
import { interceptCommand } from './intercept.js';
import { leaveCommand } from './leave.js';
import { listCommand } from './list.js';
import { listContextsCommand } from './list-contexts.js';
import { listNamespacesCommand } from './list-namespaces.js';
import { loglevelCommand } from './loglevel.js';
import { uninstallCommand } from './uninstall.js';
import { quitCommand } from './quit.js';
import { startDaemonsCommand } from './start-daemons.js';
import { statusCommand } from './status.js';
import { versionCommand } from './version.js';

export const COMMANDS: AnyCommand[] = [connectCommand, statusCommand, listCommand, listContextsCommand, listNamespacesCommand, interceptCommand, leaveCommand, uninstallCommand, quitCommand, startDaemonsCommand, versionCommand, loglevelCommand, gatherLogsCommand, configCommand, completionCommand(() => COMMANDS), helmCommand, connectorForegroundCommand] 
