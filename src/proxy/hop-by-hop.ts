/**
 * Hop-by-hop header fields: they describe one connection, not the message, so a proxy
 * consumes them and never forwards them (RFC 9110 §7.6.1). The one list for both
 * directions; the fields named in a message's own Connection header are added per message.
 */
import type { HeaderList } from "../http/types.js";

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  // RFC 9110 §7.6.1: the connection options themselves.
  "connection",
  // RFC 9112 §9.3 / RFC 2068 §19.7.1: persistent-connection parameters.
  "keep-alive",
  // Non-standard, sent by old clients configured for a proxy; same meaning as Connection.
  "proxy-connection",
  // RFC 9110 §10.1.4: TE is a hop-by-hop request field (its meaning is "for this connection").
  "te",
  // RFC 9112 §6.1: framing is per hop; each side re-frames the body.
  "transfer-encoding",
  // RFC 9110 §7.8: a protocol switch is per connection (tunnelled separately, see tunnel.ts).
  "upgrade",
  // RFC 9110 §6.6.2: announces trailer fields of this hop's chunked framing.
  "trailer",
  // RFC 9110 §11.7.1, §11.7.2: credentials for and challenges from *this* proxy.
  "proxy-authenticate",
  "proxy-authorization",
]);

const NO_TOKENS: ReadonlySet<string> = new Set();
const CLOSE_TOKEN: ReadonlySet<string> = new Set(["close"]);

/** Lower-cased field names listed in the Connection header(s) of a message. */
export function connectionTokens(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | null = null;
  let only: ReadonlySet<string> = NO_TOKENS;
  for (const [name, value] of headers) {
    // Only two names matter: skip the rest without lower-casing them.
    if (name.length !== 10 && name.length !== 16) continue;
    const n = name.toLowerCase();
    if (n !== "connection" && n !== "proxy-connection") continue;
    // The common reply "Connection: close" (Gunicorn's every reply) shares one set.
    if (
      out === null &&
      only === NO_TOKENS &&
      value.length === 5 &&
      value.toLowerCase() === "close"
    ) {
      only = CLOSE_TOKEN;
      continue;
    }
    out ??= new Set(only);
    for (const t of value.split(",")) {
      const tok = t.trim().toLowerCase();
      if (tok !== "") out.add(tok);
    }
  }
  return out ?? only;
}

/** True when `lowerName` must not be forwarded for a message with these Connection tokens. */
export function isHopByHop(lowerName: string, tokens: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(lowerName) || tokens.has(lowerName);
}

/** The end-to-end fields of a message, in order. */
export function stripHopByHop(headers: HeaderList): HeaderList {
  const tokens = connectionTokens(headers);
  return headers.filter(([n]) => !isHopByHop(n.toLowerCase(), tokens));
}
