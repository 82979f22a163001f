// Starts and watches the mailer child processes (execa). A mailer is started
// when a message is enqueued and none runs, and by a periodic sweep so retries
// go out with no new traffic; at most MAIL_MAX_PROCS run at once, each killed
// past MAIL_PROCESS_TIMEOUT_SECONDS. Their output lands in this process's log
// with the child's pid. The server never opens an SMTP connection itself.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import type { Db } from '../../db/knex.js';
import { countDue, outboxStats } from '../../db/outbox.js';
import type { MailerSettings } from './settings.js';

export interface MailerStats {
  running: number;
  pids: number[];
  spawned: number;
  failed: number;
}

export interface Mailers {
  /** A message was enqueued: make sure a mailer will look at the outbox. */
  kick(): void;
  /** Start mailers for what is due (the periodic sweep calls this). */
  sweep(): Promise<void>;
  stats(): MailerStats;
  /**
   * Stop sweeping; let running mailers end until finishMs, then ask them to
   * stop, and kill them at killMs. A second call gets the first one's promise.
   */
  stop(finishMs: number, killMs: number): Promise<void>;
}

const SCRIPT = new URL('../mailer.js', import.meta.url).pathname;
// pino's numeric levels, for replaying a child's lines at their own level.
const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** What the launcher reads of the server's settings. */
export interface LauncherConfig {
  readonly database: MailerSettings['database'];
  readonly databasePool: MailerSettings['pool'];
  readonly logLevel: string;
  readonly mail: Readonly<Omit<MailerSettings, 'database' | 'pool' | 'logLevel' | 'serverPid'>> & {
    readonly maxProcs: number;
    readonly processTimeoutMs: number;
    readonly sweepMs: number;
  };
}

export function createMailers(deps: {
  config: LauncherConfig;
  db: Db;
  logger: Logger;
  /** The database's clock, as the mailers keep it. */
  now: () => number;
}): Mailers {
  const { config, db, logger } = deps;
  const settings: MailerSettings = {
    database: config.database,
    // One mailer sends one message at a time: two connections are plenty.
    pool: { ...config.databasePool, max: Math.min(2, config.databasePool.max) },
    smtpUrl: config.mail.smtpUrl,
    smtpTimeoutMs: config.mail.smtpTimeoutMs,
    dir: config.mail.dir,
    from: config.mail.from,
    batchSize: config.mail.batchSize,
    claimMs: config.mail.claimMs,
    maxAttempts: config.mail.maxAttempts,
    retryMaxMs: config.mail.retryMaxMs,
    logLevel: config.logLevel,
    serverPid: process.pid,
  };
  const children = new Map<number, ResultPromise>();
  let spawned = 0;
  let failed = 0;
  // Set when work arrives while a mailer runs: it may have looked already.
  let lookAgain = false;
  let stopped = false;
  let sweeping = false;
  let lastDead = 0;

  function start(): void {
    if (stopped || children.size >= config.mail.maxProcs) return;
    // Settings go on stdin, not argv or env: they hold the database and SMTP passwords.
    const child = execa(process.execPath, [SCRIPT], {
      input: JSON.stringify(settings),
      // Past its time limit a mailer is stuck: asked to stop, then killed 2 s
      // later (its claims expire and are retried). Only this kill is execa's:
      // a stop (stopAll) has the shutdown bound.
      timeout: config.mail.processTimeoutMs,
      forceKillAfterDelay: 2000,
      buffer: false,
      reject: false,
      // A process group of its own: a terminal's Ctrl-C, sent to the server's
      // group, never cuts off a mailer (not even one still loading, before it
      // could ignore SIGINT); the server stops its mailers itself. Detached, it
      // is not killed when the server exits: it finishes its batch and ends.
      detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) {
      failed++;
      logger.error('a mailer could not be started');
      return;
    }
    spawned++;
    lookAgain = false;
    children.set(pid, child);
    const log = logger.child({ mailerPid: pid });
    relay(child.stdout, log, 'info');
    relay(child.stderr, log, 'error');
    void (async () => {
      const result = await child;
      children.delete(pid);
      if (result.exitCode !== 0) {
        failed++;
        log.warn(
          { exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut },
          'mailer ended abnormally; its claimed messages are retried when their claims expire',
        );
      }
      if (lookAgain && !stopped) start();
    })();
  }

  function kick(): void {
    if (children.size === 0) start();
    else lookAgain = true;
  }

  async function sweep(): Promise<void> {
    if (stopped || sweeping) return;
    sweeping = true;
    try {
      const now = deps.now();
      const due = await countDue(db, now);
      const wanted = Math.min(config.mail.maxProcs, Math.ceil(due / config.mail.batchSize));
      for (let n = children.size; n < wanted; n++) start();
      // A line for operators whenever mail is waiting or has died.
      const { counts, oldestUnsentSeconds } = await outboxStats(db, now);
      if (counts.pending + counts.sending > 0 || counts.dead !== lastDead) {
        logger.info({ ...counts, due, oldestUnsentSeconds, mailers: children.size }, 'outbox');
        lastDead = counts.dead;
      }
    } catch (err) {
      logger.error({ err }, 'outbox sweep failed');
    } finally {
      sweeping = false;
    }
  }

  const timer = setInterval(() => void sweep(), config.mail.sweepMs);
  timer.unref();

  let stopping: Promise<void> | undefined;
  function stop(finishMs: number, killMs: number): Promise<void> {
    stopping ??= stopAll(finishMs, killMs);
    return stopping;
  }

  async function stopAll(finishMs: number, killMs: number): Promise<void> {
    stopped = true;
    clearInterval(timer);
    const running = [...children.values()];
    // A mailer usually ends on its own soon (nothing left due): it may. Past
    // finishMs it is asked to stop (the message in hand, the rest given
    // back), and at killMs it is killed.
    // Sent to the pid, not through execa, whose kill would add its own SIGKILL
    // a few seconds later: the send in hand has until killMs.
    const ask = setTimeout(() => {
      for (const child of running) {
        try {
          if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
        } catch {
          // It ended meanwhile.
        }
      }
    }, finishMs);
    const kill = setTimeout(() => {
      for (const child of running) child.kill('SIGKILL');
    }, Math.max(finishMs, killMs));
    await Promise.allSettled(running);
    clearTimeout(ask);
    clearTimeout(kill);
  }

  return {
    kick,
    sweep,
    stats: () => ({ running: children.size, pids: [...children.keys()], spawned, failed }),
    stop,
  };
}

/** Replay a child's output in our log: its pino lines at their level, anything else as text. */
function relay(stream: Readable | null, log: Logger, level: 'info' | 'error'): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    try {
      const { level: n, msg, time: _time, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as Record<string, unknown>;
      log[LEVELS[n as number] ?? level](fields, String(msg ?? ''));
    } catch {
      log[level](line);
    }
  });
}
