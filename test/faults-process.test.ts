// Faults that end or could end the server process, on real freshen
// processes: SIGKILL in the middle of a burst of mail, then a restart; an
// operator's refresh queued behind a refresh that fails on the database; an
// error nobody handles.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openDatabase } from '../db/knex.js';
import * as outbox from '../db/outbox.js';
import { loadConfig } from '../server/config/config.js';
import { freshDatabase, type TestDatabase } from './support/database.js';
import { useFreshenProcesses } from './support/freshen-process.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

describe("an operator's refresh behind a refresh that fails on the database", function () {
  this.timeout(120_000);
  const fleet = useFreshenProcesses('refresh-db-fault');
  let pg: PostgresServer;

  before(async () => {
    pg = await startPostgresServer();
  });
  after(() => {
    pg?.destroy();
  });

  it('does not end the process; the entry is refreshed once the database is back', async () => {
    const upstream = fleet.upstream();
    // Slow enough for the database to be stopped while the fetch is under way.
    upstream.set('opdb', { record: record('opdb'), delayMs: 3000 });
    const node = fleet.start({
      DATABASE_URL: pg.url,
      ADMIN_TOKEN: TOKEN,
      DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
      UPSTREAM_TIMEOUT_MS: '6000',
      UPDATER_TASK_TIMEOUT_MS: '8000',
    });
    const url = await node.listening();

    const reading = fetch(`${url}/entries/opdb`, { signal: AbortSignal.timeout(20_000) });
    await waitFor(() => upstream.count('opdb') === 1, 'the refresh to reach the upstream');
    const asked = await fetch(`${url}/entries/opdb/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    pg.stop();
    // The refresh cannot be stored: its reader is answered 503, not left hanging.
    const res = await reading;
    expect(res.status).to.equal(503);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    // The operator's refresh followed, and failed on the database too.
    const exited = () => node.child.exitCode !== null || node.child.signalCode !== null;
    await waitFor(() => node.output().includes('requested refresh failed') || exited(), 'the follow-up refresh to fail', 10_000);
    expect(exited(), `freshen ended:\n${node.output()}`).to.equal(false);

    pg.start();
    upstream.set('opdb', { record: record('opdb', { title: 'after the outage' }) });
    // Its lease, taken before the outage, lapses first (UPDATER_TASK_TIMEOUT_MS + 5 s); on a busy
    // machine the restart and the pool's new connections take a while more.
    const back = await waitFor(async () => (await fetch(`${url}/entries/opdb`)).status === 200, 'the entry once the database is back', 60_000).catch(
      (err: Error) => new Error(`${err.message}\nfreshen said:\n${node.output().slice(-4000)}`),
    );
    if (back instanceof Error) throw back;
    expect(node.child.exitCode).to.equal(null);
    expect(node.output()).not.to.match(/unhandled/i);
  });
});

/** The .eml files a mailer wrote (SMTP_URL unset). */
function mailIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

describe('errors nobody handles, in a running server', function () {
  this.timeout(60_000);
  const fleet = useFreshenProcesses('unexpected');
  const hook = pathToFileURL(fileURLToPath(new URL('./support/unexpected-hook.js', import.meta.url))).href;

  it('are logged, counted and told to the admins, and the server serves on', async () => {
    const upstream = fleet.upstream();
    upstream.set('u1', { record: record('u1') });
    upstream.set('u2', { record: record('u2') });
    const node = fleet.start({ NODE_OPTIONS: `--import=${hook}`, ADMINS: 'ops@example.test', MAIL_SWEEP_SECONDS: '0.2' });
    const url = await node.listening();
    expect((await fetch(`${url}/entries/u1`)).status).to.equal(200);

    process.kill(node.child.pid as number, 'SIGUSR2');
    await waitFor(() => node.output().includes('unhandled rejection; serving on'), 'the rejection to be logged');
    process.kill(node.child.pid as number, 'SIGHUP');
    await waitFor(() => node.output().includes('uncaught exception; serving on'), 'the exception to be logged');
    const lines = node.output().split('\n').filter((l) => l.includes('; serving on'));
    expect(lines).to.have.length(2);
    for (const line of lines) expect(JSON.parse(line)).to.include({ level: 50 });
    expect(lines.join('\n')).to.include('a rejection left unhandled on purpose').and.include('an exception left uncaught on purpose');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/^freshen_unexpected_errors_total\{kind="rejection"\} 1$/m);
    expect(metrics).to.match(/^freshen_unexpected_errors_total\{kind="exception"\} 1$/m);
    const notices = await waitFor(() => {
      const mail = mailIn(join(fleet.files(), 'mail')).filter((m) => m.includes('An error no code handled reached the process'));
      return mail.length === 2 ? mail : undefined;
    }, 'the admins to be told of both', 15_000);
    for (const m of notices) expect(m).to.match(/^To: ops@example.test/m);

    // Still serving: a hit, a refresh, health.
    expect((await fetch(`${url}/entries/u1`)).status).to.equal(200);
    expect((await fetch(`${url}/entries/u2`)).status).to.equal(200);
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    expect(node.child.exitCode).to.equal(null);
  });
});

/** Is the process gone (or a zombie: it has ended, and waits to be reaped)? */
function ended(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

/** The mailer children of `parent` now. */
function mailersOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('mailer.js')) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

describe('a server killed with SIGKILL during a burst of mail, then started again', function () {
  this.timeout(120_000);
  const fleet = useFreshenProcesses('mail-kill');
  let smtp: TestSmtp;
  let database: TestDatabase;
  let orphans: number[] = [];

  before(async () => {
    smtp = await startTestSmtp();
    database = await freshDatabase();
  });
  after(async () => {
    // Mailers run in process groups of their own: the block's cleanup does not reach them.
    for (const pid of orphans) if (!ended(pid)) process.kill(pid, 'SIGKILL');
    await smtp?.close();
    await database?.drop();
  });

  it('delivers every message, none twice but the one in transfer; its mailers end their batch and exit', async () => {
    const env = {
      DATABASE_URL: database.url,
      SMTP_URL: smtp.url,
      SMTP_TIMEOUT_SECONDS: '1',
      MAIL_SWEEP_SECONDS: '0.2',
      MAIL_BATCH_SIZE: '10',
      MAIL_MAX_PROCS: '2',
      MAIL_CLAIM_SECONDS: '5',
    };
    const first = fleet.start(env);
    await first.listening();
    const db = openDatabase(loadConfig({ DATABASE_URL: database.url }).database);
    const total = 60;
    try {
      smtp.dataDelayMs = 40;
      for (let n = 0; n < total; n++) {
        await outbox.enqueue(db, { kind: 'test', recipients: ['ops@example.test'], subject: `burst ${n}`, text: `message ${n}`, html: `<p>${n}</p>`, dedupeKey: `burst:${n}`, messageId: `<burst-${n}@example.test>` }, Date.now(), 3_600_000);
      }
      const pid = first.child.pid as number;
      orphans = await waitFor(() => {
        const pids = smtp.received.length >= 5 ? mailersOf(pid) : [];
        return pids.length > 0 ? pids : undefined;
      }, 'mailers mid-burst', 20_000);
      // Any mailer started meanwhile too.
      orphans = [...new Set([...orphans, ...mailersOf(pid)])];
      process.kill(pid, 'SIGKILL');
      expect((await first.exited()).signal).to.equal('SIGKILL');
      const atKill = smtp.received.length;
      expect(atKill).to.be.below(total);

      // Its mailers are on their own now: they send what they had claimed and exit.
      await waitFor(() => orphans.every(ended), 'the orphaned mailers to exit', 30_000);
      // Each sent at most the batch it held (MAIL_BATCH_SIZE), and left the rest.
      expect(smtp.received.length).to.be.at.most(atKill + orphans.length * 10);
      expect(smtp.received.length).to.be.below(total);

      const second = fleet.start(env);
      await second.listening();
      await waitFor(async () => (await outbox.listMessages(db, 500)).every((m) => m.state === 'sent'), 'every message sent', 60_000);
      const got = smtp.received.map((r) => r.mail.messageId);
      for (let n = 0; n < total; n++) expect(got, `burst-${n}`).to.include(`<burst-${n}@example.test>`);
      const twice = got.filter((id, i) => got.indexOf(id) !== i);
      expect(twice.length, `sent twice: ${twice.join(', ')}`).to.be.at.most(1);
      expect(second.child.exitCode).to.equal(null);
    } finally {
      smtp.dataDelayMs = 0;
      await db.destroy();
    }
  });
});
