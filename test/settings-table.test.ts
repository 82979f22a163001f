// The settings table (server/config/settings.ts) is the one list of settings:
// the README's settings table is the table written out, every Config field
// comes from exactly one setting, and --print-config shows each setting once,
// in the table's order.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { describeConfig, loadConfig } from '../server/config/config.js';
import { MARK, README, settingsTable, tableSpan } from '../server/config/readme-table.js';
import { SETTING_ROWS } from '../server/config/settings.js';

/** The table that follows the mark in README.md. */
function readmeTable(): string {
  const readme = readFileSync(README, 'utf8');
  const span = tableSpan(readme);
  expect(span, `README.md has no line ${MARK}`).to.not.equal(undefined);
  const [start, end] = span as [number, number];
  return readme.slice(start, end).trimEnd();
}

describe('the settings table', () => {
  it("is what README's settings table lists: every setting, its default and meaning", () => {
    const expected = settingsTable();
    expect(readmeTable(), `README.md's settings table is out of date: run npm run readme:settings`).to.equal(expected);
  });

  it('fills each field of the config from exactly one setting', () => {
    const paths = SETTING_ROWS.map(([, setting]) => setting.at);
    expect(new Set(paths).size, 'a field is filled twice').to.equal(paths.length);
  });

  it('gives --print-config every setting once, in its order', () => {
    expect(Object.keys(describeConfig(loadConfig({})))).to.deep.equal(SETTING_ROWS.map(([name]) => name));
  });
});
