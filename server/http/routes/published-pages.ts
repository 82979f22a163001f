// Serves the published static files from PUBLISH_DIR, with ETag and
// Last-Modified and a short cache life: /pages/ (the top of the index),
// /pages/<id>.html, the index's shards /pages/index/<n>.html, and the
// sitemaps /pages/sitemap.xml and /pages/sitemaps/<n>.xml. Only a name made
// of a valid id or a shard number reaches the file system.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Router } from '@koa/router';
import type Koa from 'koa';
import type { HttpSource } from '../app.js';
import { notModified } from '../conditional.js';
import { ENTRY_ID } from '../../../shared/entry-id.js';
import { INDEX_PAGE, SHARD_PAGES, SHARD_SITEMAPS, SITEMAP_INDEX } from '../../../shared/publish-layout.js';
import { NotFound } from '../errors.js';
import { setHtml } from '../html-views.js';

const PAGE = /^(.+)\.html$/;
const SHARD = /^(\d{1,5})\.(html|xml)$/;
const XML = 'application/xml; charset=utf-8';
const MAX_AGE_SECONDS = 60;

/** One source's pages, from its directory, under its pages path (/pages, /pages/<name>). */
export function pageRoutes(router: Router, source: Pick<HttpSource, 'pagesPath' | 'config'>): void {
  const dir = source.config.publish.dir;
  const at = source.pagesPath;

  // '/pages' matches both spellings; the index lives at '/pages/'.
  router.get(at, async (ctx) => {
    if (!ctx.path.endsWith('/')) {
      ctx.status = 301;
      ctx.redirect(`${at}/`);
      return;
    }
    await sendFile(ctx, join(dir, INDEX_PAGE));
  });
  // Before /pages/:file, which would take the name for an entry's page.
  router.get(`${at}/sitemap.xml`, async (ctx) => {
    await sendFile(ctx, join(dir, SITEMAP_INDEX), XML);
  });
  router.get(`${at}/:file`, async (ctx) => {
    const id = PAGE.exec(ctx.params.file as string)?.[1];
    if (id === undefined || !ENTRY_ID.test(id)) throw new NotFound('There is no such page.');
    await sendFile(ctx, join(dir, `${id}.html`));
  });
  router.get(`${at}/${SHARD_PAGES}/:file`, async (ctx) => {
    const shard = SHARD.exec(ctx.params.file as string);
    if (shard?.[2] !== 'html') throw new NotFound('There is no such index page.');
    await sendFile(ctx, join(dir, SHARD_PAGES, `${shard[1]}.html`));
  });
  router.get(`${at}/${SHARD_SITEMAPS}/:file`, async (ctx) => {
    const shard = SHARD.exec(ctx.params.file as string);
    if (shard?.[2] !== 'xml') throw new NotFound('There is no such sitemap.');
    await sendFile(ctx, join(dir, SHARD_SITEMAPS, `${shard[1]}.xml`), XML);
  });
}

/** `type`: an HTML page (with its security headers) unless given. */
async function sendFile(ctx: Koa.Context, path: string, type?: string): Promise<void> {
  // Open first, then stat the open file: a page renamed over meanwhile cannot
  // make the length and the bytes disagree.
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch {
    throw new NotFound('There is no such page (yet).');
  }
  const info = await file.stat().catch(async (err: unknown) => {
    await file.close();
    throw err;
  });
  // The modification time is the entry's fetch time; the inode tells apart two
  // renderings of one fetch (a re-publish after a template change).
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}-${info.ino.toString(16)}"`;
  const lastModified = info.mtime.toUTCString();
  ctx.status = 200;
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', lastModified);
  ctx.set('Cache-Control', `public, max-age=${MAX_AGE_SECONDS}`);
  if (type === undefined) setHtml(ctx);
  else ctx.type = type;
  if (notModified(ctx, etag, lastModified)) {
    await file.close();
    ctx.status = 304;
    return;
  }
  ctx.length = info.size;
  if (ctx.method === 'HEAD') {
    await file.close();
    return;
  }
  ctx.body = file.createReadStream(); // closes the file when done
}
