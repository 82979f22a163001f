// Entry ids, the same rule everywhere: in a URL, in a related list, in a
// published page's file name — on both sides of the pool boundary.

/** What an entry id is, everywhere: in a URL, in a related list, in a file name. */
export const ENTRY_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The published index page's file; an entry with the id `index` has no page of its own. */
export const INDEX_PAGE = 'index.html';

/** Every entry has a page of its own but one whose page would be the index (id `index`). */
export function hasOwnPage(id: string): boolean {
  return ENTRY_ID.test(id) && `${id}.html` !== INDEX_PAGE;
}

/** Ids in one list request, and the related ids kept of one record (the first ones, each once). */
export const MAX_IDS = 100;

