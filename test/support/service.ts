// Starts a real freshen service for a test: a fresh database, a real Piscina
// pool, the given upstream, a silent logger and (optionally) a hand-moved clock.
// Every fetch() answer from it is checked against the OpenAPI document.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../server/config/config.js';
import { startService, type Service } from '../../server/service.js';
import { sourcesOf } from '../../server/config/sources.js';
import { unwatchAnswers, watchAnswers, type PathAlias } from './contract.js';
import { freshDatabase, type TestDatabase } from './database.js';
import { startTestUpstream, type TestUpstream } from './upstream.js';

export interface TestService extends Service {
  config: Config;
  database: TestDatabase;
  /** A temporary directory holding this service's pages, access log and mail. */
  files: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** Stop the service and drop its database. */
  stop(): Promise<void>;
}

export interface TestServiceOptions {
  env?: Record<string, string>;
  now?: () => number;
  /** Reuse a database (several services sharing one, as processes do). */
  database?: TestDatabase;
  updaterModule?: URL;
}

export async function startTestService(upstreamUrl: string, options: TestServiceOptions = {}): Promise<TestService> {
  const database = options.database ?? (await freshDatabase());
  const files = await mkdtemp(join(tmpdir(), 'freshen-files-'));
  const config = loadConfig({
    PUBLISH_DIR: join(files, 'pages'),
    LOG_FILE: join(files, 'access.log'),
    MAIL_DIR: join(files, 'mail'),
    PORT: '0',
    DATABASE_URL: database.url,
    UPSTREAM_URL: upstreamUrl,
    // npm test runs the suite on each runtime.
    UPDATER_RUNTIME: process.env.TEST_UPDATER_RUNTIME || 'thread',
    UPDATER_MIN_WORKERS: '1',
    UPDATER_MAX_WORKERS: '2',
    UPSTREAM_TIMEOUT_MS: '2000',
    UPDATER_TASK_TIMEOUT_MS: '4000',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const service = await startService(config, {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    now: options.now,
    updaterModule: options.updaterModule,
  });
  watchAnswers(service.url, sourceAliases(config));
  // However the test ends it: its port may serve something else next.
  service.server.once('close', () => unwatchAnswers(service.url));
  const ownsDatabase = !options.database;
  return {
    ...service,
    config,
    database,
    files,
    get: (path, headers = {}) => fetch(`${service.url}${path}`, { headers }),
    async stop() {
      await service.close();
      if (ownsDatabase) await database.drop();
      await rm(files, { recursive: true, force: true });
    },
  };
}

/** Each source's paths, checked as the default source's (the document served lists them so). */
export function sourceAliases(config: Config): PathAlias[] {
  return sourcesOf(config).flatMap((s): PathAlias[] => (s.path === '/entries' ? [] : [[s.path, '/entries'], [s.pagesPath, '/pages']]));
}

/**
 * For a describe block: a test upstream and a service on it, started before
 * its tests and stopped after them; `ready` hands both to the block.
 */
export function useService(
  options: TestServiceOptions,
  ready: (upstream: TestUpstream, service: TestService) => void,
): void {
  let upstream: TestUpstream | undefined;
  let service: TestService | undefined;
  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, options);
    ready(upstream, service);
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });
}
