// A real SMTP server on loopback (smtp-server) that parses every message back
// (mailparser), can be taken down and brought back on the same port, and
// records, for every connection, whether this test process itself opened it.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  mail: ParsedMail;
  rcptTo: string[];
  mailFrom: string;
  raw: string;
}

export interface TestSmtp {
  url: string;
  port: number;
  received: Received[];
  /** One entry per connection: did a socket of this very process open it? */
  connections: Array<{ remotePort: number; fromThisProcess: boolean }>;
  /** Delay before accepting each message (to catch a sender mid-batch). */
  dataDelayMs: number;
  /**
   * A misbehaving server: 'silent' accepts connections and never greets;
   * 'hang' takes each message in (it counts as received) and never answers;
   * 'drop' drops the connection in the middle of each message (which is then not received);
   * 'reject' refuses each message with 550 (a permanent refusal: the message dies).
   */
  fault: 'silent' | 'hang' | 'drop' | 'reject' | undefined;
  /** Messages whose data ended, accepted or not (to catch a sender mid-message). */
  dataEnded: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Is there, in this process, a TCP socket whose local port is `port` connected to `peerPort`? */
function ownsSocket(port: number, peerPort: number): boolean {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt((f[1] ?? '').split(':').pop() ?? '', 16);
      const remote = parseInt((f[2] ?? '').split(':').pop() ?? '', 16);
      if (local === port && remote === peerPort) inodes.add(f[9] as string);
    }
  }
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1] as string)) return true;
    } catch {
      // The fd closed while we looked.
    }
  }
  return false;
}

/** `host`: where it listens (127.0.0.1; a fleet test's bridge address for nodes in namespaces). */
export async function startTestSmtp(options: { host?: string } = {}): Promise<TestSmtp> {
  const host = options.host ?? '127.0.0.1';
  const received: Received[] = [];
  const connections: TestSmtp['connections'] = [];
  let port = 0;
  let server: SMTPServer | undefined;
  const smtp: TestSmtp = {
    url: '',
    port: 0,
    received,
    connections,
    dataDelayMs: 0,
    fault: undefined,
    dataEnded: 0,
    async down() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async up() {
      const s = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        closeTimeout: 200,
        onConnect(session, callback) {
          connections.push({ remotePort: session.remotePort, fromThisProcess: ownsSocket(session.remotePort, port) });
          if (smtp.fault !== 'silent') callback();
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          // A server that drops the connection mid-message has not accepted it,
          // whatever its DATA stream does after: the sender never heard a reply.
          let dropped = false;
          stream.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            if (smtp.fault !== 'drop' || dropped) return;
            dropped = true;
            // smtp-server keeps its connections' sockets private: reached here to drop one mid-message.
            const open = (s as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections;
            // oxlint-disable-next-line no-underscore-dangle -- smtp-server's own field name
            [...open].find((c) => c.id === session.id)?._socket.destroy();
          });
          stream.on('end', () => {
            smtp.dataEnded++;
            if (dropped) {
              callback(new Error('connection dropped mid-message'));
              return;
            }
            if (smtp.fault === 'reject') {
              callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
              return;
            }
            const raw = Buffer.concat(chunks).toString('utf8');
            const accept = async () => {
              const mail = await simpleParser(raw);
              received.push({
                mail,
                raw,
                mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                rcptTo: session.envelope.rcptTo.map((r) => r.address),
              });
            };
            if (smtp.fault === 'hang') {
              void accept();
              return;
            }
            setTimeout(() => {
              accept().then(
                () => callback(),
                (err: Error) => callback(err),
              );
            }, smtp.dataDelayMs);
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve());
      });
      // A client that dies mid-message (a killed mailer) resets its connection:
      // that is the client's failure, not the server's, and must not end the test.
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err;
      });
      server = s;
      port = ((s as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo).port;
      smtp.port = port;
      smtp.url = `smtp://${host}:${port}`;
    },
    close: () => smtp.down(),
  };
  await smtp.up();
  return smtp;
}
