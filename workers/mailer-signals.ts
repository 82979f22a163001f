// The mailer's first import: SIGTERM is heard from the moment its code starts
// loading (the rest of it takes a while), so a stop asked for early is kept,
// not taken as the default kill.
export const stopRequest = { asked: false, onAsk: (): void => undefined };

process.once('SIGTERM', () => {
  stopRequest.asked = true;
  stopRequest.onAsk();
});
