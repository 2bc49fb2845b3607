/** Every command of the `express-micro` bin, in the order `--help` lists them. */
import type { Command } from '../command.ts';
import { dashboardCommand } from './dashboard/index.ts';
import { typesCommand } from './types/index.ts';

/** The commands `express-micro <command>` dispatches to. */
export const COMMANDS: readonly Command[] = [typesCommand, dashboardCommand];
