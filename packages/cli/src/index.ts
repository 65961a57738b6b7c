/** The `taskwire` command: dispatch to a command, turn errors into exit statuses. */
import { readFileSync } from 'node:fs';
import { publishCommand } from './commands/publish.js';
import { serveCommand } from './commands/serve.js';
import { taskCommand } from './commands/task.js';
import { tokenCommand } from './commands/token.js';
import { watchCommand } from './commands/watch.js';
import { CommandError, UsageError } from './errors.js';
import { processIo, type Command, type Io } from './io.js';

export type { Command, Io };
export { UsageError, CommandError };
export { startDemo, DEMO_ROOM, DEMO_OWNERS, type Demo, type DemoOptions, type DemoLogger } from './demo/index.js';

export const COMMANDS: readonly Command[] = [serveCommand, tokenCommand, taskCommand, publishCommand, watchCommand];

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  return `Usage: taskwire <command> [options]

Real-time progress gateway for long-running tasks.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}

Options:
  -h, --help     this help (taskwire <command> --help for a command's)
  -v, --version  print the version

Quick start: taskwire serve --dev`;
}

/** Run the tool with `args` (without `node` and the script). Resolves to the exit status. */
export async function main(args: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    io.err(help());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(version());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (taskwire --help lists them)`);
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`taskwire${command ? ` ${command.name}` : ''}: ${err.message}`);
      return 2;
    }
    if (err instanceof CommandError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}
