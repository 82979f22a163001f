// The application log: pino JSON lines on stdout; pretty-printing is left to
// the reader's terminal (pipe through pino-pretty).
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
}
