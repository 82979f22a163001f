// SIGINT and SIGTERM, each delivery counted once. A wrapper such as `npm start`
// passes a terminal's Ctrl-C on to us although the terminal already sent it to
// the whole process group: the same signal again within a moment is that
// copy, not an operator asking a second time.
const REPEAT_MS = 300;

export function onStopSignals(handler: (signal: NodeJS.Signals) => void): void {
  let last: { signal: NodeJS.Signals; at: number } | undefined;
  const heard = (signal: NodeJS.Signals) => {
    const at = performance.now();
    if (last && last.signal === signal && at - last.at < REPEAT_MS) return;
    last = { signal, at };
    handler(signal);
  };
  process.on('SIGINT', heard);
  process.on('SIGTERM', heard);
}
