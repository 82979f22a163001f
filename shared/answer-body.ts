// An entry's answer body, `{"id":…,"data":<record>,"fetchedAt":"…"}`, as the
// bytes sent. The updater prepares it where it fetched the record, off the
// answering thread, with the fetch time left as a fixed-width slot; the server
// stamps the time in place once it knows it (when the record is stored), so
// nothing proportional to the record's size happens on the main thread.

/** An ISO 8601 UTC time is always this wide (years 1970 to 9999). */
const STAMP = '1970-01-01T00:00:00.000Z';
// The slot's distance from the end: the stamp, then `"}`.
const STAMP_FROM_END = STAMP.length + 2;

export interface PreparedBody {
  /** The answer's bytes; it owns its ArrayBuffer, so a worker can move it without a copy. */
  body: Uint8Array;
  /** Where the record's JSON text lies in `body`. */
  recordStart: number;
  recordEnd: number;
}

/**
 * The body of `record` (compact JSON text), its fetch time to be stamped, in
 * an ArrayBuffer of its own, never a slice of Node's shared pool of small
 * buffers: a worker moves it to the server without a copy, and the memory
 * tier, which keeps it, counts what it holds.
 */
export function prepareBody(id: string, record: string): PreparedBody {
  const head = `{"id":${JSON.stringify(id)},"data":`;
  const tail = `,"fetchedAt":"${STAMP}"}`;
  const recordStart = Buffer.byteLength(head);
  const recordEnd = recordStart + Buffer.byteLength(record);
  const body = Buffer.allocUnsafeSlow(recordEnd + tail.length);
  body.write(head, 0);
  body.write(record, recordStart);
  body.write(tail, recordEnd, 'latin1');
  return { body, recordStart, recordEnd };
}

/** `body` as a Buffer (it arrives from a worker as a Uint8Array), with its fetch time written in. */
export function stampFetchedAt(body: Uint8Array, fetchedAt: number): Buffer {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  buffer.write(new Date(fetchedAt).toISOString(), buffer.length - STAMP_FROM_END, 'latin1');
  return buffer;
}

/** The answer body of a stored record (in memory of its own, as prepareBody's). */
export function answerBody(id: string, record: string, fetchedAt: number): Buffer {
  return stampFetchedAt(prepareBody(id, record).body, fetchedAt);
}

/** The record's JSON text within a prepared body, as a Buffer over the same bytes (no copy). */
export function recordBytes(prepared: PreparedBody): Buffer {
  const { body, recordStart, recordEnd } = prepared;
  return Buffer.from(body.buffer, body.byteOffset + recordStart, recordEnd - recordStart);
}
