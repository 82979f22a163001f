// Scaling: hit-path requests/s with WEB_CONCURRENCY from 1 to the number of
// cores. (Reads of a data set larger than the memory tier: cold-path-section.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/knex.js';
import { loadConfig } from '../server/config/config.js';
import { prefill, type Plan } from './http-sections.js';
import { medianOf, startNode } from './lib.js';
import { throughput } from './wrk.js';
import { seedEntries } from './seed.js';

export async function webConcurrency(plan: Plan, upstreamUrl: string) {
  const out: Record<string, number> = {};
  for (let n = 1; n <= availableParallelism(); n++) {
    const dir = mkdtempSync(join(tmpdir(), 'freshen-scale-'));
    // A stored copy to start from: the reads measured are hits, and filling the
    // memory tiers costs no refreshes.
    const ids = await seed(join(dir, 'db.sqlite'), 200);
    const paths = ids.map((id) => `/entries/${id}`);
    const server = await startNode(
      'dist/server/main.js',
      [],
      {
        PORT: '0',
        WEB_CONCURRENCY: String(n),
        UPSTREAM_URL: upstreamUrl,
        DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
        PUBLISH_DIR: join(dir, 'pages'),
        LOG_FILE: join(dir, 'access.log'),
        MAIL_DIR: join(dir, 'mail'),
        ENTRY_TTL_SECONDS: '86400',
      },
      /listening on (http:\/\/[\d.:]+)/,
    );
    try {
      // Each worker fills its own memory tier from the shared SQL copy.
      for (let i = 0; i < n; i++) await prefill(server.ready, ids);
      const { rps } = await medianOf(plan.reps, async () => {
        const r = await throughput(server.ready, paths, { connections: 50, seconds: plan.seconds });
        return { rps: r.rps };
      });
      out[`webConcurrency${n}`] = Math.round(rps);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** Store n entries straight into a database file. */
async function seed(file: string, n: number): Promise<string[]> {
  const db = openDatabase(loadConfig({ DATABASE_URL: `sqlite:${file}` }).database);
  try {
    return await seedEntries(db, n);
  } finally {
    await db.destroy();
  }
}
