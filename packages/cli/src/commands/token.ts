import { isValidId, isValidPattern } from '@taskwire/protocol';
import { OPTIONS, signDevToken, type DevTokenClaims } from '@taskwire/server';
import { parseCommandArgs, parseDuration, parseList, required } from '../args.js';
import { UsageError } from '../errors.js';
import type { Command, Io } from '../io.js';

const secretOption = OPTIONS.find((o) => o.key === 'jwtSecret');
const SECRET_FLAG = secretOption?.flag ?? '--jwt-secret';
const SECRET_ENV = secretOption?.env ?? 'TASKWIRE_JWT_SECRET';

const HELP = `Usage: taskwire token --sub <user> [--admin] [--channels <patterns>] [--publish <patterns>] [--ttl <duration>]

Sign a client token (HS256 JWT) with the server's secret and print it.

Options:
  --sub <user>             the user id (the "sub" claim), required
  --admin                  may subscribe to and read anything
  --channels <patterns>    extra channels it may subscribe to, comma-separated:
                           exact names or prefixes ending in * (task:*, room:team-*)
  --publish <patterns>     channels it may publish to, same syntax
  --ttl <duration>         lifetime: 90 (seconds), 30s, 15m, 1h, 7d (default 1h)
  ${SECRET_FLAG} <secret>  the server's HS256 secret (env ${SECRET_ENV}), required
  -h, --help               this help

  taskwire token --sub alice --channels room:lobby --publish room:lobby --ttl 1h`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'sign a client token (HS256 JWT)',
  help: () => HELP,
  async run(args: string[], io: Io): Promise<number> {
    const { values } = parseCommandArgs(
      args,
      {
        sub: { type: 'string' },
        admin: { type: 'boolean' },
        channels: { type: 'string' },
        publish: { type: 'string' },
        ttl: { type: 'string' },
        [SECRET_FLAG.slice(2)]: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      false,
    );
    if (values.help === true) {
      io.out(HELP);
      return 0;
    }
    const secret = str(values[SECRET_FLAG.slice(2)]) ?? io.env[SECRET_ENV];
    if (!secret) {
      throw new UsageError(
        `missing ${SECRET_FLAG}: set ${SECRET_FLAG} or ${SECRET_ENV} to the server's secret (printed by \`taskwire serve --dev\`)`,
      );
    }
    const sub = required(str(values.sub), '--sub', 'the user id');
    if (!isValidId(sub)) throw new UsageError('--sub must be 1-128 characters of [A-Za-z0-9_.-@]');
    const claims: DevTokenClaims = { sub, ttl: parseDuration(str(values.ttl) ?? '1h', '--ttl') };
    if (values.admin === true) claims.admin = true;
    const channels = str(values.channels);
    if (channels !== undefined) claims.channels = patterns(channels, '--channels');
    const publish = str(values.publish);
    if (publish !== undefined) claims.publish = patterns(publish, '--publish');
    io.out(await signDevToken({ jwtSecret: secret, jwtAlgorithm: 'HS256' }, claims));
    return 0;
  },
};

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function patterns(text: string, flag: string): string[] {
  const list = parseList(text);
  const badOne = list.find((p) => !isValidPattern(p));
  if (badOne !== undefined)
    throw new UsageError(`${flag}: ${JSON.stringify(badOne)} is not a channel name or a prefix ending in *`);
  return list;
}
