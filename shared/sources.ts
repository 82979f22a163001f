// The upstreams freshen serves. The env vars describe one, named `entries`
// and served at /entries; its rows are the entries table's.

/** The source the env vars describe. */
export const DEFAULT_SOURCE = 'entries';
