// Published pages, rendered and written off the main thread: an entry's page
// (title, Markdown body rendered by marked and cleaned by sanitize-html, other
// fields, related links, fetch time) and the index. Every write is atomic — a
// temporary file in the same directory, then a rename — so a reader sees the
// old page or the new one, never half of one. File names come only from ids
// that passed the id pattern; nothing from upstream data reaches a path.
// Replacing a page (check its time, then rename) holds a lock on it, shared
// with every process that publishes to the directory (proper-lockfile: a
// lock directory beside the page, taken over when its holder died).
import { mkdir, open, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { Marked } from 'marked';
import lockfile from 'proper-lockfile';
import sanitizeHtml from 'sanitize-html';
import { definitionList, escapeHtml, layout } from '../shared/html.js';
import { hasOwnPage } from '../shared/entry-id.js';
import { DEFAULT_PATHS, type PagePaths } from '../shared/publish-layout.js';

const marked = new Marked({ gfm: true, async: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', 'h1', 'h2'],
  allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title'], code: ['class'], th: ['align'], td: ['align'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['https', 'data'] },
  allowProtocolRelative: false,
  // Links out of a published page do not pass the reader's page address along.
  transformTags: { a: sanitizeHtml.simpleTransform('a', { rel: 'noopener noreferrer nofollow' }) },
};

/** Markdown from upstream, as HTML with nothing active left in it. */
export function renderMarkdown(markdown: string): string {
  return sanitizeHtml(marked.parse(markdown) as string, SANITIZE);
}

export function entryPageHtml(id: string, data: Record<string, unknown>, fetchedAt: number, hash: string, paths: PagePaths = DEFAULT_PATHS): string {
  const title = typeof data.title === 'string' && data.title.trim() !== '' ? data.title : id;
  // A body that opens with the title as its own heading would show it twice.
  const markdown = typeof data.body === 'string' ? data.body.replace(/^#[ \t]+(.*)\r?\n/, (line, heading: string) => (heading.trim() === title.trim() ? '' : line)) : '';
  const body = markdown ? renderMarkdown(markdown) : '';
  const related = Array.isArray(data.related)
    ? data.related
        .filter((r): r is string => typeof r === 'string' && hasOwnPage(r))
        .map((r) => `<li><a href="${paths.pages}/${r}.html">${r}</a></li>`)
        .join('')
    : '';
  const fetched = new Date(fetchedAt).toISOString();
  return layout(
    title,
    `<p class="status">Entry ${escapeHtml(id)}</p>
<h1>${escapeHtml(title)}</h1>
<article>
${body}
</article>
${definitionList(data)}
${related ? `<h2>Related</h2>\n<ul class="entries">${related}</ul>` : ''}
<p class="meta">Fetched <time datetime="${fetched}">${fetched}</time> · <a href="${paths.pages}/">all entries</a> · <a href="${paths.entries}/${escapeHtml(id)}">JSON</a></p>`,
    '',
    hash,
  );
}

// The record hash a published page carries in its first line (layout's data-record).
const RECORD_MARK = /^<!doctype html>\n<html lang="en" data-record="([A-Za-z0-9_-]+)">/;

/** The hash of the record `dir/name` was made from ('' when it carries none); undefined when there is no page. */
export async function pageRecordHash(dir: string, name: string): Promise<string | undefined> {
  let file: FileHandle;
  try {
    file = await open(join(dir, name), 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(160);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return RECORD_MARK.exec(head.toString('latin1', 0, bytesRead))?.[1] ?? '';
  } finally {
    await file.close();
  }
}

const madeDirs = new Set<string>();
let sequence = 0;

/**
 * Write `dir/name` atomically; `name` must already be a safe file name. With
 * `modifiedAt` (an entry's fetch time), that becomes the file's modification
 * time, and a file already modified later is left alone (undefined returned):
 * two refreshes of one entry never leave the older page in place.
 */
export async function writeAtomically(dir: string, name: string, content: string | Iterable<string>, modifiedAt?: number): Promise<number | undefined> {
  if (!madeDirs.has(dir)) {
    await mkdir(dir, { recursive: true });
    madeDirs.add(dir);
  }
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${process.pid}-${threadId}-${++sequence}.tmp`);
  let bytes = 0;
  try {
    bytes = typeof content === 'string' ? await writeText(temp, content) : await writePieces(temp, content);
    if (modifiedAt === undefined) {
      await rename(temp, target);
    } else {
      const when = new Date(modifiedAt);
      await utimes(temp, when, when);
      const replaced = await whileLocked(dir, name, async () => {
        if (await newerThan(target, modifiedAt)) return false;
        await rename(temp, target);
        return true;
      });
      if (!replaced) {
        await rm(temp, { force: true });
        return undefined;
      }
    }
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return bytes;
}

async function writeText(path: string, content: string): Promise<number> {
  const bytes = Buffer.from(content);
  await writeFile(path, bytes);
  return bytes.length;
}

// Pieces are gathered into writes of about this size.
const WRITE_BYTES = 64 * 1024;

/**
 * A large file (an index shard) written as its pieces are made, a write at a
 * time: the worker never holds the whole text, so rendering thousands of
 * links leaves short-lived garbage, not a heap that grows.
 */
async function writePieces(path: string, pieces: Iterable<string>): Promise<number> {
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    let pending = '';
    for (const piece of pieces) {
      pending += piece;
      if (pending.length >= WRITE_BYTES) {
        // writeFile, unlike write, writes it all (from the file's position on).
        await file.writeFile(pending);
        bytes += Buffer.byteLength(pending);
        pending = '';
      }
    }
    await file.writeFile(pending);
    bytes += Buffer.byteLength(pending);
  } finally {
    await file.close();
  }
  return bytes;
}

/** Remove `dir/name` unless it was modified after `modifiedAt`; false when it was kept. */
export async function removeUnlessNewer(dir: string, name: string, modifiedAt: number): Promise<boolean> {
  const target = join(dir, name);
  // No page (nor, perhaps, its directory yet): nothing to remove.
  if (!(await stat(target).catch(() => undefined))) return true;
  return whileLocked(dir, name, async () => {
    if (await newerThan(target, modifiedAt)) return false;
    await rm(target, { force: true });
    return true;
  });
}

const LOCK_OPTIONS = {
  realpath: false,
  // A page is replaced in milliseconds: a holder silent for 10 s has died, and its lock is taken over.
  stale: 10_000,
  // The default throws from a timer, which would end the worker. The step is
  // one stat and one rename: a lock lost meanwhile costs at most that write's order.
  onCompromised: () => undefined,
};
// About 12 s of tries in all: past the stale time.
const LOCK_TRIES = 100;

/** Runs `step` holding the lock on `dir/name` (a hidden `.name.lock` directory). */
async function whileLocked<T>(dir: string, name: string, step: () => Promise<T>): Promise<T> {
  let release: (() => Promise<void>) | undefined;
  for (let attempt = 1; release === undefined; attempt++) {
    try {
      release = await lockfile.lock(join(dir, name), { ...LOCK_OPTIONS, lockfilePath: join(dir, `.${name}.lock`) });
    } catch (err) {
      // Only a lock another writer holds is waited for (past the stale time, in
      // all); any other error (no directory, no permission) fails this write at once.
      if ((err as { code?: string }).code !== 'ELOCKED' || attempt >= LOCK_TRIES) throw err;
      await sleep(Math.min(200, 2 * 1.1 ** attempt));
    }
  }
  try {
    return await step();
  } finally {
    await release();
  }
}

/** Was the file (if there is one) modified after `modifiedAt`? */
async function newerThan(file: string, modifiedAt: number): Promise<boolean> {
  const current = await stat(file).catch(() => undefined);
  return current !== undefined && Math.floor(current.mtimeMs) > modifiedAt;
}

export function pageFileName(id: string): string {
  if (!hasOwnPage(id)) throw new Error(`${JSON.stringify(id)} has no page of its own`);
  return `${id}.html`;
}
