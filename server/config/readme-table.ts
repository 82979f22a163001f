// The README's settings table, written from the settings table:
// `npm run readme:settings` rewrites it in place after the mark, and
// test/settings-table.test.ts fails while the README differs from it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Setting } from './kinds.js';
import { SETTING_ROWS } from './settings.js';

export const README = join(fileURLToPath(new URL('../../..', import.meta.url)), 'README.md');
export const MARK = '<!-- generated from server/config/settings.ts; npm run readme:settings writes it -->';

/** The README's default for a setting: its words for a machine's default, what unset means, or the value. */
function defaultCell(setting: Setting): string {
  return setting.defaultText ?? setting.unset ?? `\`${setting.default}\``;
}

/** The README's settings table as the settings table writes it. */
export function settingsTable(): string {
  const rows = SETTING_ROWS.map(([name, setting]) => `| \`${name}\` | ${defaultCell(setting)} | ${setting.about} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** Where the table stands in the README's text: [start, end), or undefined without the mark. */
export function tableSpan(readme: string): [number, number] | undefined {
  const at = readme.indexOf(`${MARK}\n`);
  if (at < 0) return undefined;
  const start = at + MARK.length + 1;
  let end = start;
  while (readme.startsWith('|', end)) {
    const next = readme.indexOf('\n', end);
    end = next < 0 ? readme.length : next + 1;
  }
  return [start, end];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(README, 'utf8');
  const span = tableSpan(readme);
  if (!span) {
    process.stderr.write(`README.md has no line ${MARK}\n`);
    process.exit(1);
  }
  writeFileSync(README, `${readme.slice(0, span[0])}${settingsTable()}\n${readme.slice(span[1])}`);
  process.stdout.write(`README.md: ${SETTING_ROWS.length} settings\n`);
}
