// The kinds of setting (an integer, seconds, a directory, a list of
// addresses…) and the shape of a row of the settings table (settings.ts). A
// kind knows how its value is parsed (zod), the words for "what is allowed"
// in the error line, its default, and how the value moves into Config and
// back out for --print-config.
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from './config.js';
import { isUsableDirectory } from './values.js';

/** A value as --print-config and the status page show it, before masking. */
export type Shown = string | number | undefined;

export interface Kind<T, C> {
  /** Parses the raw string, or the default's; sees undefined only when there is no default. */
  readonly schema: z.ZodType<T>;
  /** What is allowed, as the error line says it: "expected <allowed>". */
  readonly allowed: string;
  /** Used when the variable is unset or empty; undefined: there is none. */
  readonly default: string | undefined;
  /** The parsed value as Config holds it (seconds as milliseconds, a path made absolute). */
  toConfig(value: T): C;
  /** Config's value in the variable's own terms again (milliseconds as seconds). */
  show(value: C): Shown;
}

// Config's sections; every other field of Config is set directly.
type Section = 'databasePool' | 'updater' | 'upstream' | 'entries' | 'mail' | 'publish' | 'demo';

/** Where a setting's value goes in Config: `field` or `section.field`. */
export type ConfigPath = Exclude<keyof Config, Section> | { [S in Section]: `${S}.${keyof Config[S] & string}` }[Section];

type FieldAt<P extends ConfigPath> = P extends `${infer S extends Section}.${infer F}`
  ? Config[S][F & keyof Config[S]]
  : Config[P & keyof Config];

/** One row of the settings table. Without a path: any row, as the loader walks them. */
export interface Setting<P extends ConfigPath = ConfigPath> extends Kind<unknown, FieldAt<P>> {
  /** Where the value goes in Config. */
  readonly at: P;
  /** Masked wherever it is shown: the whole value, or a URL's credentials. */
  readonly secret?: 'value' | 'url';
  /** What no value means: --print-config shows "(<unset>)", the README it as the default. */
  readonly unset?: string;
  /** The README's words for a default that depends on the machine. */
  readonly defaultText?: string;
  /** Listed on the status page (/admin). */
  readonly status?: true;
  /** The README's one line on it. */
  readonly about: string;
}

/** A row whose value has the type of its Config field: what the table must satisfy. */
export type CheckedSetting = { [P in ConfigPath]: Setting<P> }[ConfigPath];

const same = <T>(value: T): T => value;

/** A value Config holds as parsed. */
export function plain<T extends Shown>(schema: z.ZodType<T>, allowed: string, def: string | undefined): Kind<T, T> {
  return { schema, allowed, default: def, toConfig: same, show: same };
}

export function integer(def: number, min: number, max: number): Kind<number, number> {
  const schema = z.string().regex(/^-?\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
  return plain(schema, `an integer from ${min} to ${max}`, String(def));
}

export function number(def: number, min: number, max: number): Kind<number, number> {
  const schema = z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number).pipe(z.number().min(min).max(max));
  return plain(schema, `a number from ${min} to ${max}`, String(def));
}

/** Seconds in the variable, whole milliseconds in Config. */
export function seconds(def: number, min: number, max: number): Kind<number, number> {
  return { ...number(def, min, max), toConfig: (s) => Math.round(s * 1000), show: (ms) => ms / 1000 };
}

export function oneOf<const V extends readonly [string, ...string[]]>(values: V, allowed: string, def: V[number]): Kind<V[number], V[number]> {
  return plain(z.enum(values), allowed, def);
}

/** A file or directory path, made absolute in Config. */
export function path(schema: z.ZodType<string>, allowed: string, def: string): Kind<string, string> {
  return { ...plain(schema, allowed, def), toConfig: (p) => resolve(p) };
}

/** A directory that exists, or that can be created under one that does. */
export function directory(def: string): Kind<string, string> {
  return path(z.string().min(1).refine(isUsableDirectory), 'the path of a directory that exists or can be created', def);
}

// Deliberately loose: `freshen@localhost` is a fine sender on a test box.
const EMAIL = /^[^\s@<>,;:"()[\]]+@[^\s@<>,;:"()[\]]+$/;

export function address(def: string): Kind<string, string> {
  return plain(z.string().regex(EMAIL), 'an e-mail address', def);
}

export function addressList(): Kind<string[], readonly string[]> {
  return {
    schema: z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
      .pipe(z.array(z.string().regex(EMAIL))),
    allowed: 'a comma-separated list of e-mail addresses (or empty)',
    default: '',
    toConfig: same,
    show: (list) => list.join(','),
  };
}
