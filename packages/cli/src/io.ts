/** Where a command writes, and the environment it reads: process streams in the CLI, fakes in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
};

/** One command of the `taskwire` tool. */
export interface Command {
  name: string;
  /** One line for the tool's help. */
  summary: string;
  /** The full `--help` text. */
  help(): string;
  /** Runs the command; resolves to the exit status. Throws UsageError (2) or CommandError (1). */
  run(args: string[], io: Io): Promise<number>;
}

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
