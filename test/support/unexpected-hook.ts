// Loaded into a freshen process with --import, for the test of errors nobody
// handles: SIGUSR2 leaves a promise rejected with no handler, SIGHUP throws
// from a timer. Only the server process itself listens (the option reaches
// its children too).
if (process.argv[1]?.endsWith('/server/main.js')) {
  process.on('SIGUSR2', () => {
    void Promise.reject(new Error('a rejection left unhandled on purpose'));
  });
  process.on('SIGHUP', () => {
    setTimeout(() => {
      throw new Error('an exception left uncaught on purpose');
    });
  });
}
