// The alerting rules freshen ships (deploy/prometheus/alerts.yml), checked
// with Debian's promtool: they load, every rule fires on the series its unit
// test gives it and stays quiet on a healthy node, every rule has a test, a
// `for:`, a severity and words for the operator, and every metric a rule
// reads is one a running freshen exports.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestService, type TestService } from './support/service.js';
import { startTestUpstream, type TestUpstream } from './support/upstream.js';

const dir = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const rules = readFileSync(`${dir}alerts.yml`, 'utf8');
const tests = readFileSync(`${dir}alerts.test.yml`, 'utf8');

function promtool(...args: string[]): string {
  return execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Each rule's text, from its `- alert:` line to the next. */
function ruleBlocks(): Array<{ name: string; text: string }> {
  return rules
    .split(/^\s+- alert: /m)
    .slice(1)
    .map((text) => ({ name: text.split('\n')[0]?.trim() ?? '', text }));
}

describe('the shipped alerting rules', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url);
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it('load in Prometheus (promtool check rules)', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).to.match(/SUCCESS: \d+ rules found/);
  });

  it('fire on the series their unit tests give them, and only there (promtool test rules)', () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).to.include('SUCCESS');
  });

  it('each have a unit test, a for:, a severity, a summary and a description', () => {
    const blocks = ruleBlocks();
    expect(blocks.length).to.be.at.least(10);
    const tested = new Set([...tests.matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    for (const { name, text } of blocks) {
      expect(tested.has(name), `${name} has a unit test`).to.equal(true);
      expect(text, name).to.match(/\n\s+for: \d+m/);
      expect(text, name).to.match(/\n\s+severity: (critical|warning)/);
      expect(text, name).to.match(/\n\s+summary: "/);
      expect(text, name).to.match(/\n\s+description: "/);
    }
  });

  it('read only metrics a running freshen exports', async () => {
    const exported = await (await service.get('/metrics')).text();
    const used = new Set([...rules.matchAll(/\b((?:freshen|nodejs)_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b(?=[{[ )])/g)].map((m) => m[1] as string));
    expect(used.size).to.be.at.least(10);
    for (const name of used) expect(exported, name).to.include(`# TYPE ${name} `);
  });
});
