/**
 * The Lua scripts, read once from `../lua/*.lua` (shipped with the package) with the
 * shared `lib.lua` prepended, and run by SHA (EVALSHA). A server that lost its script
 * cache (restarted, failed over) answers NOSCRIPT; the script is then sent whole once
 * (EVAL), which also caches it again. On a Cluster the first key routes the call.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

export type Client = Redis | Cluster;

export type ScriptName =
  'commit' | 'append' | 'history' | 'index' | 'clearMark' | 'stream' | 'delete' | 'outbox' | 'outboxIndex';

export class Script {
  readonly sha: string;

  constructor(
    readonly name: ScriptName,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Client, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

function read(file: string): string {
  return readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8');
}

let loaded: Record<ScriptName, Script> | undefined;

/** The scripts, read from disk on first use and shared by every engine in the process. */
export function scripts(): Record<ScriptName, Script> {
  if (!loaded) {
    const lib = read('lib.lua');
    const make = (name: ScriptName): Script => new Script(name, `${lib}\n${read(`${name}.lua`)}`);
    loaded = {
      commit: make('commit'),
      append: make('append'),
      history: make('history'),
      index: make('index'),
      clearMark: new Script('clearMark', read('clear-mark.lua')),
      stream: make('stream'),
      delete: make('delete'),
      outbox: new Script('outbox', read('outbox.lua')),
      outboxIndex: new Script('outboxIndex', read('outbox-index.lua')),
    };
  }
  return loaded;
}
