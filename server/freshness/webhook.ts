// The upstream's own word that entries changed: `POST /hooks/:source`, signed
// as Stripe and GitHub sign theirs — `X-Freshen-Signature: t=<unix seconds>,
// v1=<hex HMAC-SHA256 of "<t>.<body>">` with the source's secret. A call is
// taken once: its timestamp within five minutes of the database's clock (both
// ways), its signature not seen before by any node (webhook_deliveries, kept
// until the timestamp would be refused anyway).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/knex.js';
import { forgetDelivery, takeDelivery } from '../../db/webhook-deliveries.js';

/** How far a call's timestamp may be from the database's clock, either way. */
export const WEBHOOK_WINDOW_MS = 5 * 60_000;

export type Verdict =
  | { ok: true; signature: string }
  | { ok: false; why: 'no-webhook' | 'unsigned' | 'bad-signature' | 'out-of-window' | 'replayed' };

export interface Webhooks {
  /** Is there a webhook for this source (a secret to check it by)? */
  has(source: string): boolean;
  /** Checks a call's signature and takes it (a second call with it is refused). */
  verify(source: string, header: string | undefined, body: Buffer): Promise<Verdict>;
  /** A taken call's work failed: its signature may be sent again. */
  release(source: string, signature: string): Promise<void>;
}

/** What `X-Freshen-Signature` holds: its timestamp and every v1 signature given (several while a secret is rotated). */
export function parseSignature(header: string): { t: number; v1: string[] } | undefined {
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) v1.push(value.toLowerCase());
  }
  return t === undefined || v1.length === 0 ? undefined : { t, v1 };
}

/** The signature of a body at a time: what the upstream sends (and a test makes). */
export function sign(secret: string, t: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

export function createWebhooks(deps: {
  db: Db;
  secrets: ReadonlyMap<string, string>;
  now: () => number;
  /** Told each call's outcome: taken, or why it was refused (metrics). */
  observe?: (outcome: string) => void;
}): Webhooks {
  const { db, secrets } = deps;
  return {
    has: (source) => secrets.has(source),
    async verify(source, header, body) {
      const verdict = await judge(source, header, body);
      deps.observe?.(verdict.ok ? 'taken' : verdict.why);
      return verdict;
    },
    release: (source, signature) => forgetDelivery(db, source, signature),
  };

  async function judge(source: string, header: string | undefined, body: Buffer): Promise<Verdict> {
    const secret = secrets.get(source);
    if (secret === undefined) return { ok: false, why: 'no-webhook' };
    const given = header === undefined ? undefined : parseSignature(header);
    if (!given) return { ok: false, why: 'unsigned' };
    const expected = Buffer.from(sign(secret, given.t, body), 'hex');
    const match = given.v1.find((v) => timingSafeEqual(Buffer.from(v, 'hex'), expected));
    if (match === undefined) return { ok: false, why: 'bad-signature' };
    if (Math.abs(deps.now() - given.t * 1000) > WEBHOOK_WINDOW_MS) return { ok: false, why: 'out-of-window' };
    const taken = await takeDelivery(db, source, match, given.t * 1000 + WEBHOOK_WINDOW_MS);
    return taken ? { ok: true, signature: match } : { ok: false, why: 'replayed' };
  }
}
