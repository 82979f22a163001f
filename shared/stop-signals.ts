// SIGINT and SIGTERM, heard from the moment the entry loads this module, each
// delivery counted once. Until the command line gives its handler, a stop is
// kept for it. A wrapper such as `npm start` passes a terminal's Ctrl-C on to
// us although the terminal already sent it to the whole process group: the
// same signal again within a moment is that copy, not an operator asking a
// second time.
const REPEAT_MS = 300;

let handler: ((signal: NodeJS.Signals) => void) | undefined;
let kept: NodeJS.Signals | undefined;
let last: { signal: NodeJS.Signals; at: number } | undefined;

function heard(signal: NodeJS.Signals): void {
  const at = performance.now();
  if (last && last.signal === signal && at - last.at < REPEAT_MS) return;
  last = { signal, at };
  if (handler) handler(signal);
  else kept ??= signal;
}

process.on('SIGINT', heard);
process.on('SIGTERM', heard);

export function onStopSignals(stop: (signal: NodeJS.Signals) => void): void {
  handler = stop;
  if (kept !== undefined) {
    const signal = kept;
    kept = undefined;
    stop(signal);
  }
}
