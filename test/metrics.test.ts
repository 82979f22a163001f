// /metrics in Prometheus text: the families operators need, with values that
// move with traffic.
import { expect } from 'chai';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';

/** The value of one sample, e.g. sample(text, 'freshen_cache_outcomes_total{outcome="hit"}'). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  let upstream: TestUpstream;
  let service: TestService;

  useService({}, (u, s) => {
    upstream = u;
    service = s;
  });

  const scrape = async () => {
    const res = await service.get('/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('exposes every family: requests, cache outcomes, refreshes, pool, outbox, event loop, memory', async () => {
    const text = await scrape();
    for (const family of [
      'freshen_http_request_duration_seconds',
      'freshen_cache_outcomes_total',
      'freshen_refresh_duration_seconds',
      'freshen_refreshes_total',
      'freshen_updater_workers',
      'freshen_updater_busy_workers',
      'freshen_updater_queue_depth',
      'freshen_updater_utilization',
      'freshen_updater_task_wait_seconds',
      'freshen_updater_task_run_seconds',
      'freshen_outbox_messages',
      'freshen_outbox_oldest_unsent_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(text, family).to.include(`# TYPE ${family} `);
    }
    expect(sample(text, 'freshen_updater_workers')).to.be.at.least(1);
    expect(sample(text, 'freshen_outbox_messages{state="pending"}')).to.equal(0);
  });

  it('moves with traffic', async () => {
    upstream.set('m1', { record: record('m1') });
    await service.get('/entries/m1'); // miss, refreshed
    await service.get('/entries/m1'); // hit
    await service.get('/entries/m1'); // hit
    const text = await scrape();
    expect(sample(text, 'freshen_cache_outcomes_total{outcome="hit"}')).to.equal(2);
    expect(sample(text, 'freshen_cache_outcomes_total{outcome="miss"}')).to.equal(1);
    expect(sample(text, 'freshen_refreshes_total{outcome="ok"}')).to.equal(1);
    expect(sample(text, 'freshen_refresh_duration_seconds_count{outcome="ok"}')).to.equal(1);
    expect(sample(text, 'freshen_updater_task_run_seconds_count{kind="refresh"}')).to.equal(1);
    expect(sample(text, 'freshen_http_request_duration_seconds_count{route="/entries/:id",method="GET",status="200"}')).to.equal(3);

    await service.get('/entries/m1');
    const again = await scrape();
    expect(sample(again, 'freshen_cache_outcomes_total{outcome="hit"}')).to.equal(3);
    expect(sample(again, 'freshen_http_request_duration_seconds_count{route="/entries/:id",method="GET",status="200"}')).to.equal(4);
  });
});
