// HTTP throughput as measured with wrk (Debian's wrk): one thread, a fixed
// number of connections, each request a GET of the next path in a list (a Lua
// script walks it). wrk, written in C, answers far past where a Node load
// generator tops out (~34k req/s here), so a figure is the server's, not the
// generator's.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './lib.js';

export interface WrkResult {
  rps: number;
  /** Latency percentiles in ms. */
  p50: number;
  p99: number;
  requests: number;
  /** Socket errors and answers other than 2xx/3xx. */
  errors: number;
}

/** Whether wrk is on this machine (`apt-get install wrk`). */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version.
    return (err as { status?: number }).status === 1;
  }
}

// Walks the paths in turn, one list per connection thread; reports the
// percentiles and errors on stdout as one line wrk's own text lacks.
const SCRIPT = (paths: string[]) => `
local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FRESHEN_WRK %d %.3f %.3f %d\\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
`;

/** One run of wrk against `url` for `seconds`, over `paths` in turn. */
export async function wrk(url: string, paths: string[], options: { connections: number; seconds: number }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-wrk-'));
  const script = join(dir, 'paths.lua');
  writeFileSync(script, SCRIPT(paths));
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '5s', '-s', script, url], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`wrk exited ${code}: ${text.slice(-500)}`));
      });
    });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const line = /FRESHEN_WRK (\d+) ([\d.]+) ([\d.]+) (\d+)/.exec(out);
    if (!line || !Number.isFinite(rps)) throw new Error(`wrk said nothing readable: ${out.slice(-500)}`);
    return { rps, requests: Number(line[1]), p50: Number(line[2]), p99: Number(line[3]), errors: Number(line[4]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let warned = false;

/**
 * Requests per second a server answers, as fast as it can: with wrk; where
 * wrk cannot be had, with autocannon (in a process of its own), whose own
 * ceiling (~34k req/s on these machines) then caps the figures — said once.
 */
export async function throughput(url: string, paths: string[], options: { connections: number; seconds: number }): Promise<WrkResult & { generator: 'wrk' | 'autocannon' }> {
  if (hasWrk()) return { ...(await wrk(url, paths, options)), generator: 'wrk' };
  if (!warned) {
    warned = true;
    process.stderr.write('bench: wrk is not installed (apt-get install -y wrk): autocannon measures instead, and its ceiling caps the figures\n');
  }
  const r = await load({ url, paths, ...options });
  return { rps: r.rps, p50: r.p50, p99: r.p99, requests: r.requests, errors: r.errors + r.non2xx, generator: 'autocannon' };
}
