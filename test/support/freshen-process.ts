// freshen as a real process (`node dist/server/main.js`) for the tests that
// signal it or run it as a cluster: a test upstream, a fresh database and a
// temporary directory for its files, with every process stopped afterwards.
// Every fetch() answer from one is checked against the OpenAPI document.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../server/config/config.js';
import { unwatchAnswers, watchAnswers } from './contract.js';
import { sourceAliases } from './service.js';
import { freshDatabase, type TestDatabase } from './database.js';
import { startTestUpstream, type TestUpstream } from './upstream.js';
import { waitFor } from './wait.js';

// dist/test/support/ → the project root
const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface FreshenProcess {
  child: ChildProcess;
  /** Everything it wrote on stdout and stderr so far. */
  output(): string;
  /** Resolves with its URL once it says it listens. */
  listening(timeoutMs?: number): Promise<string>;
  /** Resolves with how it ended (bounded). */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

export interface FreshenProcesses {
  upstream(): TestUpstream;
  /** The directory its access log, pages and mail go to. */
  files(): string;
  /**
   * Starts `node dist/server/main.js`; `wrap` runs it under another command
   * (`unshare`, `faketime`…), which must exec it as its last arguments.
   */
  start(env?: Record<string, string>, wrap?: readonly string[]): FreshenProcess;
}

/** Kill each process's whole group (it runs detached): its updater children go with it. */
function kill(list: ChildProcess[]): void {
  for (const c of list) {
    if (c.pid === undefined) continue;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }
}

/** For a describe block: what its freshen processes share, set up before and torn down after. */
export function useFreshenProcesses(label: string): FreshenProcesses {
  let upstream: TestUpstream | undefined;
  let database: TestDatabase | undefined;
  let files = '';
  // Processes a test starts end with it; those a before() hook starts, with the block.
  let inTest = false;
  let ofTest: ChildProcess[] = [];
  const ofBlock: ChildProcess[] = [];

  before(async () => {
    upstream = await startTestUpstream();
    database = await freshDatabase();
    files = await mkdtemp(join(tmpdir(), `freshen-${label}-`));
  });
  beforeEach(() => {
    inTest = true;
  });
  afterEach(() => {
    inTest = false;
    kill(ofTest);
    ofTest = [];
  });
  after(async () => {
    kill(ofBlock);
    await upstream?.close();
    await database?.drop();
    await rm(files, { recursive: true, force: true });
  });

  return {
    upstream: () => upstream as TestUpstream,
    files: () => files,
    start(env = {}, wrap = []) {
      let output = '';
      const [command = process.execPath, ...args] = [...wrap, process.execPath, 'dist/server/main.js'];
      const child = spawn(command, args, {
        cwd: root,
        // A process group of its own, as a terminal gives a command: a Ctrl-C reaches all of it.
        detached: true,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          DATABASE_URL: (database as TestDatabase).url,
          UPSTREAM_URL: (upstream as TestUpstream).url,
          UPDATER_RUNTIME: process.env.TEST_UPDATER_RUNTIME || 'thread',
          PUBLISH_DIR: join(files, 'pages'),
          LOG_FILE: join(files, 'access.log'),
          MAIL_DIR: join(files, 'mail'),
          ...env,
        },
      });
      (inTest ? ofTest : ofBlock).push(child);
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      return {
        child,
        output: () => output,
        listening: async (timeoutMs = 30_000) => {
          const url = await waitFor(() => /listening on (http:\/\/[\d.:]+)/.exec(output)?.[1], 'freshen to listen', timeoutMs).catch((err: Error) => {
            // What it said, so a start that failed or hung can be told apart.
            const ended = child.exitCode !== null || child.signalCode !== null ? `; it exited (${child.exitCode ?? child.signalCode})` : '; it still runs';
            throw new Error(`${err.message}${ended}; its last output:\n${output.slice(-2000)}`);
          });
          watchAnswers(url, env.SOURCES_FILE ? sourceAliases(loadConfig(env)) : []);
          // Its port may serve something else once it is gone.
          if (child.exitCode !== null || child.signalCode !== null) unwatchAnswers(url);
          else child.once('exit', () => unwatchAnswers(url));
          return url;
        },
        exited: (timeoutMs = 30_000) =>
          waitFor(
            () => (child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode, signal: child.signalCode } : undefined),
            'freshen to exit',
            timeoutMs,
          ),
      };
    },
  };
}
