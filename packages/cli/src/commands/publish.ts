import { isValidChannel } from '@taskwire/protocol';
import { parseCommandArgs, parseJsonArg } from '../args.js';
import { CLIENT_HELP, CLIENT_OPTIONS, createClient } from '../client.js';
import { UsageError } from '../errors.js';
import { printJson, type Command, type Io } from '../io.js';

const HELP = `Usage: taskwire publish <channel> <json> [--idempotency-key <key>]

Publish one event to a channel (room:<name> or user:<id>; task: channels take task
updates only) through the HTTP API with the API key. Prints {"epoch","offset"}.

  taskwire publish room:lobby '{"text":"hello"}'

Options:
  --idempotency-key <key>  a repeat within 5 minutes returns the first position and publishes nothing

${CLIENT_HELP}`;

export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish a JSON event to a channel (HTTP API)',
  help: () => HELP,
  async run(args: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...CLIENT_OPTIONS, 'idempotency-key': { type: 'string' } },
      true,
    );
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const [channel, json, extra] = positionals;
    if (channel === undefined || json === undefined || extra !== undefined)
      throw new UsageError('publish needs exactly <channel> and <json>');
    if (!isValidChannel(channel))
      throw new UsageError(`${JSON.stringify(channel)} is not a channel name (task:<id>, user:<id> or room:<name>)`);
    const body: Record<string, unknown> = { data: parseJsonArg(json, '<json>') };
    if (values['idempotency-key'] !== undefined) body.idempotencyKey = values['idempotency-key'];
    const client = createClient(values, io);
    printJson(io, await client.request('POST', `/channels/${encodeURIComponent(channel)}/publish`, body));
    return 0;
  },
};
