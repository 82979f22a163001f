// A TCP port free on 127.0.0.1 now, for a server that must be told its port
// before it starts (Postgres, nginx, the demo upstream): the kernel picks one,
// it is released, and the caller binds it soon after.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
