/** Every command of the `express-micro` bin, in the order `--help` lists them. */
import type { Command } from '../command.ts';
import { callCommand } from './call/index.ts';
import { dashboardCommand } from './dashboard/index.ts';
import { statusCommand } from './status/index.ts';
import { typesCommand } from './types/index.ts';
import { watchCommand } from './watch/index.ts';

/** The commands `express-micro <command>` dispatches to. */
export const COMMANDS: readonly Command[] = [statusCommand, watchCommand, callCommand, dashboardCommand, typesCommand];
