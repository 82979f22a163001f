// freshen as the benchmark runs it: the real service from the environment's
// settings, with the updater runtime given on the command line (which may be
// a baseline — inline or spawn — that operators cannot choose). Prints
// `READY <url>`; stops on SIGTERM.
import { loadConfig } from '../server/config/config.js';
import { startService } from '../server/service.js';
import { BASELINES, isBaseline, type BenchRuntime } from './baselines.js';

const runtime = (process.argv[2] ?? 'thread') as BenchRuntime;
const service = isBaseline(runtime)
  ? await startService(loadConfig(process.env), { updaterBackend: BASELINES[runtime] })
  : await startService(loadConfig({ ...process.env, UPDATER_RUNTIME: runtime }));
process.stdout.write(`READY ${service.url}\n`);
process.on('SIGTERM', () => {
  void service.close().then(() => process.exit(0));
});
