/**
 * Keeps the docs true: the error catalogue, the close codes and the options table
 * each have exactly one documented row, and nothing is documented that the code lacks.
 */
import { readFileSync } from 'node:fs';
import { CloseCode, ERROR_CODES } from '@taskwire/protocol';
import { describe, expect, it } from 'vitest';
import { OPTIONS, TUNING, shownDefault } from '../src/config/options.js';

const doc = (name: string): string => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

/** The table rows (cells, trimmed) of the section under `heading`, header and separator dropped. */
function tableRows(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `section "${heading}"`).toBeGreaterThan(-1);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,6} /);
  const section = end === -1 ? rest : rest.slice(0, end);
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .replace(/^\||\|$/g, '')
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  return rows.slice(2);
}

const unquote = (cell: string | undefined): string => (cell ?? '').replace(/`/g, '').trim();

describe('docs/errors.md', () => {
  const md = doc('errors.md');

  it('has one row per error code of ERROR_CODES, with its HTTP status, and no other', () => {
    const rows = tableRows(md, '## Error codes');
    const documented = rows.map((r) => unquote(r[0]));
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const row of rows) {
      const code = unquote(row[0]) as keyof typeof ERROR_CODES;
      expect(unquote(row[1]), `status of ${code}`).toBe(String(ERROR_CODES[code].status));
      expect(row[2], `meaning of ${code}`).not.toBe('');
      expect(row[3], `how to fix ${code}`).not.toBe('');
    }
  });

  it('has one row per close code of CloseCode, and no other', () => {
    const rows = tableRows(md, '## WebSocket close codes');
    const documented = rows.map((r) => Number(unquote(r[0])));
    expect([...documented].sort((a, b) => a - b)).toEqual(Object.values(CloseCode).sort((a, b) => a - b));
    for (const row of rows)
      expect(
        row.slice(1).every((c) => c !== ''),
        `row ${row[0]}`,
      ).toBe(true);
  });
});

describe('docs/configuration.md', () => {
  const rows = tableRows(doc('configuration.md'), '## Server options');

  it('documents every option of OPTIONS with its flag, env and default', () => {
    for (const o of OPTIONS) {
      const row = rows.find((r) => unquote(r[0]) === o.flag);
      expect(row, `row for ${o.flag}`).toBeDefined();
      expect(unquote(row?.[1]), `env of ${o.flag}`).toBe(o.env);
      const def = shownDefault(o);
      expect(unquote(row?.[2]).split(' ')[0], `default of ${o.flag}`).toBe(def);
    }
  });

  it('documents no flag or env var that OPTIONS lacks', () => {
    const flags = new Set<string>(OPTIONS.map((o) => o.flag));
    const envs = new Set<string>(OPTIONS.map((o) => o.env));
    for (const row of rows) {
      expect(flags.has(unquote(row[0])), `${row[0]} is in OPTIONS`).toBe(true);
      expect(envs.has(unquote(row[1])), `${row[1]} is in OPTIONS`).toBe(true);
    }
    expect(rows).toHaveLength(OPTIONS.length);
  });

  it('lists every fixed value of TUNING with its value, and no other', () => {
    const fixed = tableRows(doc('configuration.md'), '## Fixed values');
    expect(fixed.map((r) => unquote(r[0]))).toEqual(Object.keys(TUNING));
    for (const row of fixed) {
      expect(unquote(row[1]), row[0]).toBe(String(TUNING[unquote(row[0]) as keyof typeof TUNING]));
    }
  });
});
