// The application log on stdout: JSON lines for machines, or — when a person
// runs freshen in a terminal — pretty lines, formatted by pino-pretty on pino's
// worker thread.
import { pino, type Logger } from 'pino';
import type { Config } from './config/config.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  const options = { level: config.logLevel, base: { pid: process.pid } };
  if (!process.stdout.isTTY) return pino(options);
  return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } }));
}

/**
 * Text for a person, written down the log's own stream so that it comes out
 * in order with the log lines around it (pino buffers them; pino-pretty
 * passes lines that are not JSON through as they are).
 */
export function writeBesideLog(logger: Logger, text: string): void {
  const stream = (logger as unknown as Record<symbol, { write(chunk: string): void }>)[pino.symbols.streamSym];
  stream?.write(text);
}
