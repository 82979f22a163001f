// The settings table (server/config/settings.ts) is the one list of settings:
// the README's settings table is the table written out, every Config field
// comes from exactly one setting, and --print-config shows each setting once,
// in the table's order.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConfig, loadConfig } from '../server/config/config.js';
import type { Setting } from '../server/config/kinds.js';
import { SETTING_ROWS } from '../server/config/settings.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MARK = '<!-- generated from server/config/settings.ts; test/settings-table.test.ts checks it -->';

/** The README's default for a setting: its words for a machine's default, what unset means, or the value. */
function defaultCell(setting: Setting): string {
  return setting.defaultText ?? setting.unset ?? `\`${setting.default}\``;
}

/** The README's settings table as the settings table writes it. */
function expectedTable(): string {
  const rows = SETTING_ROWS.map(([name, setting]) => `| \`${name}\` | ${defaultCell(setting)} | ${setting.about} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The table that follows the mark in README.md. */
function readmeTable(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf(`${MARK}\n`);
  expect(at, `README.md has no line ${MARK}`).to.be.at.least(0);
  const lines = readme.slice(at + MARK.length + 1).split('\n');
  const end = lines.findIndex((line) => !line.startsWith('|'));
  return lines.slice(0, end === -1 ? undefined : end).join('\n');
}

describe('the settings table', () => {
  it("is what README's settings table lists: every setting, its default and meaning", () => {
    const expected = expectedTable();
    expect(readmeTable(), `README.md's settings table is out of date; after ${MARK} it should read:\n\n${expected}\n`).to.equal(expected);
  });

  it('fills each field of the config from exactly one setting', () => {
    const paths = SETTING_ROWS.map(([, setting]) => setting.at);
    expect(new Set(paths).size, 'a field is filled twice').to.equal(paths.length);
  });

  it('gives --print-config every setting once, in its order', () => {
    expect(Object.keys(describeConfig(loadConfig({})))).to.deep.equal(SETTING_ROWS.map(([name]) => name));
  });
});
