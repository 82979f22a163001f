// `npm run bench:catalogue` (≤ 5 min; `-- --quick` over 100k entries;
// `-- --engine=sqlite` one engine, while working on it): the catalogue
// section alone (catalogue-section.ts). Prints a table and writes
// bench/results/catalogue-latest.{json,md} (not for one engine).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogue, catalogueMarkdown } from './catalogue-section.js';
import { startDemo } from './http-sections.js';
import { ROOT } from './lib.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = performance.now();
  const demo = await startDemo(0);
  try {
    const engine = process.argv.find((a) => a.startsWith('--engine='))?.slice('--engine='.length);
    if (engine !== undefined && engine !== 'sqlite' && engine !== 'postgres') throw new Error(`--engine=${engine}: sqlite or postgres`);
    const result = await catalogue(demo.ready, quick, engine ? [engine] : undefined);
    const seconds = Math.round((performance.now() - started) / 1000);
    const table = catalogueMarkdown(result);
    process.stdout.write(`\n${table}\n\n${quick ? 'quick' : 'full'} run in ${seconds} s\n`);
    if (engine) return;
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'catalogue-latest.json'), `${JSON.stringify({ mode: quick ? 'quick' : 'full', date: new Date().toISOString(), seconds, ...result }, null, 2)}\n`);
    writeFileSync(join(dir, 'catalogue-latest.md'), `# catalogue (${quick ? 'quick' : 'full'} run, ${seconds} s)\n\n${table}\n`);
  } finally {
    await demo.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
