/**
 * Crash guard for the SQLite engine's positions.
 *
 * In WAL mode with `synchronous=NORMAL`, a commit survives the process being
 * killed, but an OS crash or power loss can roll back the newest commits. Offsets
 * would then be handed out again under the same epoch, and a client that had seen
 * the lost events would silently skip their replacements. So the engine records the
 * kernel's boot id and whether it shut down cleanly: when the machine rebooted
 * while the database was open, every channel gets a new epoch, and clients resync
 * (`recovered: false` with the snapshot) instead of trusting stale positions.
 * Where no boot id is available (not Linux), the guard does nothing.
 */
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** This machine's boot id, or null when the platform has none. */
export function currentBootId(): string | null {
  try {
    const id = readFileSync(BOOT_ID_PATH, 'utf8').trim();
    return id.length > 0 ? id : null;
  } catch {
    return null;
  }
}

export interface BootCheck {
  /** True when every channel was given a new epoch. */
  rotated: boolean;
}

/**
 * Run at open, inside no other transaction. Rotates every epoch when the last run
 * was on another boot and did not close cleanly; then records this boot, marked
 * as running (not clean) until markClean().
 */
export function checkBoot(db: Database.Database, bootId: string | null): BootCheck {
  const get = db.prepare<[string], string>('select value from meta where key = ?').pluck();
  const set = db.prepare<[string, string]>(
    'insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value',
  );
  return db
    .transaction((): BootCheck => {
      const lastBoot = get.get('boot_id');
      const clean = get.get('clean_shutdown') === '1';
      const rotated = bootId !== null && lastBoot !== undefined && lastBoot !== bootId && !clean;
      // 12 hex characters from SQLite's CSPRNG: a valid epoch ([A-Za-z0-9_-]{1,32}), different per channel.
      if (rotated) db.exec('update channels set epoch = lower(hex(randomblob(6)))');
      if (bootId !== null) set.run('boot_id', bootId);
      set.run('clean_shutdown', '0');
      return { rotated };
    })
    .immediate();
}

/** Record a clean shutdown (called by close() just before the database closes). */
export function markClean(db: Database.Database): void {
  db.prepare("update meta set value = '1' where key = 'clean_shutdown'").run();
}
