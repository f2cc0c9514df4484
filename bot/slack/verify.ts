import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Slack's v0 request signature, checked in constant time. Unlike a staleness check alone,
 * a timestamp too far in the future is refused too: a captured request cannot be
 * replayed later by pre-dating nothing.
 */
export function verifySlackSignature(rawBody: string, timestampHeader: string | undefined, signatureHeader: string | undefined, secret: string, nowMs: number): SignatureCheck {
  if (!timestampHeader || !signatureHeader) return { ok: false, reason: 'missing signature headers' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed timestamp' };
  const timestamp = Number(timestampHeader);
  if (Math.abs(Math.floor(nowMs / 1000) - timestamp) > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'timestamp outside the 5-minute window' };
  const [version, hex] = signatureHeader.split('=', 2);
  if (version !== 'v0' || !hex || !/^[0-9a-f]{64}$/.test(hex)) return { ok: false, reason: 'malformed signature' };
  const expected = createHmac('sha256', secret).update(`v0:${timestampHeader}:${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(hex, 'hex')) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}
