// The checks a setting's value must pass beyond its type (a host, a URL, a
// directory, a schema file), and how a URL is shown without its secrets.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { compileSchema } from '../../workers/schema.js';

// An RFC 1123 host name (or `localhost`); IP addresses are checked with isIP.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false; // a port past 65535, a space in the user name…
  }
}

export function isHost(value: string): boolean {
  // All digits and dots is an IPv4 address or nothing (999.1.1.1 is no host name).
  if (/^[\d.]+$/.test(value)) return isIP(value) === 4;
  return HOST_NAME.test(value) || isIP(value) !== 0;
}

/** The file a sqlite: URL names: sqlite:./relative, sqlite:/absolute and sqlite:///absolute. */
export function sqlitePath(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
}

/** sqlite:<file> in a usable directory, or a postgres:// URL that names a host. */
export function isDatabaseUrl(value: string): boolean {
  if (value.startsWith('sqlite:')) return isUsableFilePath(sqlitePath(value));
  try {
    return new URL(value).hostname !== '';
  } catch {
    return false;
  }
}

/** A file that exists, or can be created: not a directory, in a usable directory. */
export function isUsableFilePath(path: string): boolean {
  const target = resolve(path);
  try {
    if (statSync(target).isDirectory()) return false;
  } catch {
    // Not there yet: its directory decides.
  }
  return isUsableDirectory(dirname(target));
}

export function isUsableDirectory(path: string): boolean {
  const target = resolve(path);
  // Nothing can be written under /proc or /sys (and a recursive mkdir there never returns).
  if (/^\/(proc|sys)(\/|$)/.test(target)) return false;
  for (let dir = target; ; dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return false;
      accessSync(dir, constants.W_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) return false;
    }
  }
}

export function isUrlTemplate(value: string): boolean {
  if (!value.includes('{id}')) return false;
  try {
    const url = new URL(value.replaceAll('{id}', 'x'));
    // The id must never choose the host: every request goes to one origin.
    const other = new URL(value.replaceAll('{id}', 'y'));
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === other.origin;
  } catch {
    return false;
  }
}

/** Why the file is not a usable JSON Schema, or undefined when it is. */
export function checkSchemaFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `cannot read it: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  try {
    compileSchema(JSON.parse(text));
  } catch (err) {
    return `not a valid JSON Schema: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

