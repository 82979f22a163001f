// The command-line entry: `node dist/server/main.js [--print-config]`. Its
// first import hears stop signals: the rest of freshen takes a moment to
// load, and a signal meanwhile is kept for the command line (cli.ts) instead
// of ending the process with the default kill.
// oxlint-disable-next-line import/no-unassigned-import -- loaded for its effect: listeners from the first moment
import '../shared/stop-signals.js';

await import('./cli.js');
