// Module hooks for a test (registered with --import): the loading of the
// command line (server/cli.js) is held until a flag file appears, so that a
// signal can be sent while freshen is still loading.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

let flag = '';

export function initialize(data: { flag: string }): void {
  flag = data.flag;
}

export async function load(
  url: string,
  context: unknown,
  nextLoad: (url: string, context: unknown) => Promise<unknown>,
): Promise<unknown> {
  if (url.endsWith('/server/cli.js')) {
    process.stderr.write('holding the command line\n');
    const deadline = performance.now() + 20_000;
    while (!existsSync(flag) && performance.now() < deadline) await sleep(10);
  }
  return nextLoad(url, context);
}
