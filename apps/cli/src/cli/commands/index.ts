// Every CLI command, in help order.
import type { AnyCommand } from '../command.js';
import { connectCommand } from './connect.js';
import { connectorForegroundCommand } from './connector-foreground.js';
import { helmCommand } from './helm.js';
import { listCommand } from './list.js';
import { quitCommand } from './quit.js';
import { startDaemonsCommand } from './start-daemons.js';
import { statusCommand } from './status.js';
import { versionCommand } from './version.js';

export const COMMANDS: AnyCommand[] = [connectCommand, statusCommand, listCommand, quitCommand, startDaemonsCommand, versionCommand, helmCommand, connectorForegroundCommand] 
