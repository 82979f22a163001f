// The messages that cross the pool boundary: one task in, one plain result out.
// Errors travel as data ({code, message}), never as thrown objects.
import type { PagePaths } from '../shared/publish-layout.js';
import type { FetchFailureCode, PoolFailureCode } from '../shared/failures.js';
import type { UpstreamFreshness, Validators } from '../shared/upstream.js';

/** The heap each updater worker (thread or process) is given, in MiB. */
export const WORKER_HEAP_MB = 512;
/**
 * Heap one refresh may take per byte of its record, at worst: measured with
 * JSON.parse and JSON.stringify of 10 MB records — text 2×, arrays of numbers
 * 5×, arrays of empty objects 22× — plus the body's own copy.
 */
export const HEAP_PER_RECORD_BYTE = 24;

/** The largest record a worker's heap holds while it runs `tasksPerWorker` refreshes at once: UPSTREAM_MAX_BYTES's bound. */
export function mostRecordBytes(tasksPerWorker: number): number {
  return Math.floor((WORKER_HEAP_MB * 1024 * 1024) / (HEAP_PER_RECORD_BYTE * tasksPerWorker));
}

/** Fetch, validate and hash one record. */
export interface RefreshTask {
  kind: 'refresh';
  id: string;
  /** URL template with `{id}`. */
  upstreamUrl: string;
  timeoutMs: number;
  maxBytes: number;
  schemaPath: string;
  /** How the upstream's Cache-Control and Expires are read (UPSTREAM_CACHE_CONTROL, ENTRY_TTL_MIN/MAX). */
  cacheControl: CacheControlPolicy;
  /** The stored record's validators: the request is conditional, and a 304 keeps the record. */
  validators?: Validators;
}

export interface CacheControlPolicy {
  obey: boolean;
  minTtlMs: number;
  maxTtlMs: number;
}

/**
 * Render one stored record's page: after each good refresh (once its readers
 * are answered), and for the re-publish command. A page older than the one in
 * place (by fetchedAt, kept as the file's modification time) is not written.
 */
export interface PublishTask {
  kind: 'publish';
  id: string;
  /** The record's JSON text (or its UTF-8 bytes); null: the upstream no longer has the entry — its page is removed. */
  record: string | Uint8Array | null;
  /** The record's hash (its ETag), written into the page: a later refresh tells by it whether the page is of this version. */
  hash: string | null;
  fetchedAt: number;
  publishDir: string;
  /** Where the source's pages and entries are served (default: /pages, /entries): the links the pages carry. */
  paths?: PagePaths;
  /** Leave a page of this very version in place (a 304, the repair): write only a missing page or one of another version. */
  unlessCurrent?: boolean;
}

/**
 * Which of these pages disagree with the copy: missing, or of another version
 * of the record than the hash given — or present though the entry has no
 * record (hash null)? (The page repair.)
 */
export interface CheckPagesTask {
  kind: 'check-pages';
  id: 'check-pages';
  pages: Array<{ id: string; hash: string | null }>;
  publishDir: string;
}

export interface IndexEntry {
  id: string;
  title: string | null;
  fetchedAt: number;
}

/** Write one shard of the index: its page of links and its sitemap. */
export interface IndexShardTask {
  kind: 'index-shard';
  /** `index-<shard>`, for the pool's bookkeeping. */
  id: string;
  shard: number;
  shards: number;
  /**
   * Its entries in id order, one line each — `id TAB fetchedAt TAB title` —
   * in blocks of text: a copy to the worker of a few strings, not thousands
   * of objects, each small enough for V8's young generation (a large string
   * would live in the old one until a full collection).
   */
  entries: string[];
  /** The shard holds more entries than one page lists (PUBLISH_INDEX_SHARDS is too small for the catalogue). */
  truncated: boolean;
  publishDir: string;
  /** Where the source's pages and entries are served (default: /pages, /entries): the links the pages carry. */
  paths?: PagePaths;
  /** PUBLIC_URL: sitemaps carry absolute URLs. */
  publicUrl: string;
}

export interface ShardSummary {
  shard: number;
  entries: number;
  /** When the shard was last written (epoch ms): the sitemap index's lastmod. */
  writtenAt: number;
}

/** Write the top of the index: the page of shards, the sitemap index, and the manifest the server reads at start. */
export interface IndexTopTask {
  kind: 'index-top';
  id: 'index';
  shards: ShardSummary[];
  publishDir: string;
  /** Where the source's pages and entries are served (default: /pages, /entries): the links the pages carry. */
  paths?: PagePaths;
  publicUrl: string;
}

/** Set by the pool on each task it runs. */
interface Tracking {
  /** The worker reports the task's start under this key. */
  trackKey?: number;
  /** The scheduling priority (nice, 0-19) the worker's thread or process runs at. */
  nice?: number;
  /** Epoch ms past which its caller no longer waits: a task that only starts then does nothing. */
  deadline?: number;
}

/** Tasks no reader waits for (pages, their check, the index): they never take a worker slot or queue place a refresh needs. */
export const BACKGROUND_KINDS: ReadonlySet<Task['kind']> = new Set(['publish', 'check-pages', 'index-shard', 'index-top']);

export type Task = (RefreshTask | PublishTask | CheckPagesTask | IndexShardTask | IndexTopTask) & Tracking;

/** Sent by a worker when it starts a tracked task: which worker, when (epoch ms). */
export interface TaskStarted {
  freshenTaskStarted: true;
  key: number;
  /** Thread id (worker threads) or pid (child processes): what the pool kills if the task hangs. */
  worker: number;
  at: number;
}

export function isTaskStarted(message: unknown): message is TaskStarted {
  return typeof message === 'object' && message !== null && (message as TaskStarted).freshenTaskStarted === true;
}

export type PublishResult =
  | { kind: 'published'; id: string; bytes: number }
  /** A newer page of the entry was already in place. */
  | { kind: 'superseded'; id: string }
  /** The page in place is of this version already (unlessCurrent). */
  | { kind: 'current'; id: string }
  | { kind: 'removed'; id: string }
  | { kind: 'failed'; id: string; code: PublishFailureCode; message: string };

export type CheckPagesResult =
  /** The ids whose page disagrees with the copy. */
  | { kind: 'checked'; id: string; stale: string[] }
  | { kind: 'failed'; id: string; code: PublishFailureCode; message: string };

/** Why a page was not written: the disk, or the pool. */
export type PublishFailureCode = 'write-error' | PoolFailureCode;

/** Any task's result. */
export type TaskResult = RefreshResult | PublishResult | CheckPagesResult;

export type ResultOf<T extends Task> = T extends RefreshTask ? RefreshResult : T extends CheckPagesTask ? CheckPagesResult : PublishResult;

export type RefreshResult =
  | {
      kind: 'ok';
      id: string;
      /**
       * The answer body, fetch time to be stamped (shared/answer-body.ts). The
       * record is its bytes from recordStart to recordEnd: compact JSON text.
       */
      body: Uint8Array;
      recordStart: number;
      recordEnd: number;
      /** sha256 of the record's text, base64url: the entity tag. */
      hash: string;
      /** The record's `related` ids as given (validated later, where they are read). */
      related: string[];
      /** The record's title, if it has a string one. */
      title: string | null;
      bytes: number;
      validators: Validators;
      freshness: UpstreamFreshness;
      /** Its cache tags (Surrogate-Key, Cache-Tag), sorted; none when it sent neither. */
      tags: string[];
    }
  /** The upstream answered a conditional request 304: the stored record stands, fresh again. */
  /** `freshness` null: the 304 said nothing of it (no Cache-Control, no Expires), so the stored record's stands (RFC 9111 §4.3.4). */
  /** `tags` null: it sent no tag header, so the stored tags stand. */
  | { kind: 'not-modified'; id: string; validators: Validators; freshness: UpstreamFreshness | null; tags: string[] | null }
  | { kind: 'not-found'; id: string }
  | {
      kind: 'invalid';
      id: string;
      /** The URL the record came from, for the notice (credentials and all: the server masks them). */
      url: string;
      problems: string[];
      /** The record's title, for the notice. */
      title?: string;
    }
  | {
      kind: 'failed';
      id: string;
      code: FetchFailureCode;
      message: string;
      status?: number;
      /** How long the upstream asked us to wait (its Retry-After), in ms. */
      retryAfterMs?: number;
    };
