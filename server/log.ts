// The application log on stdout: JSON lines for machines, or — when a person
// runs freshen in a terminal — pretty lines, formatted by pino-pretty on pino's
// worker thread.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  const options = { level: config.logLevel, base: { pid: process.pid } };
  if (!process.stdout.isTTY) return pino(options);
  return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } }));
}
