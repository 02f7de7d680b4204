/**
 * `proxy_pass` targets and the request URI sent upstream (ngx_http_proxy_module.c:
 * ngx_http_proxy_pass, ngx_http_proxy_set_vars, ngx_http_proxy_create_request).
 *
 *   proxy_pass http://app;            the client's URI unchanged ($request_uri)
 *   proxy_pass http://app/v2/;        the matched location prefix replaced by /v2/
 *   proxy_pass http://unix:/s.sock:/x/;   a unix socket, URI part after the second ':'
 *   proxy_pass http://$host$uri;      variables: a URI part is sent exactly as evaluated
 */
import { isIP } from "node:net";

export interface PassTarget {
  readonly scheme: "http" | "https";
  /** Host as written (brackets kept for IPv6); the upstream name when one matches. */
  readonly host: string;
  readonly port: number;
  /** True when the URL gave no port: only then may it name an `upstream` block. */
  readonly noPort: boolean;
  /** Socket path for `unix:` targets, else null. */
  readonly unixPath: string | null;
  /** The URI part ("/" counts), or null when the URL has none. */
  readonly uri: string | null;
  /** $proxy_host: host, plus ":port" when not the scheme's default; "localhost" for unix. */
  readonly proxyHost: string;
  /** $proxy_port */
  readonly proxyPort: string;
  /** scheme://host[:port] as written, without the URI (proxy_redirect default). */
  readonly url: string;
}

export class PassUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PassUrlError";
  }
}

/** Parse a `proxy_pass` URL (after variable evaluation). Throws PassUrlError. */
export function parsePassUrl(raw: string): PassTarget {
  const m = /^(https?):\/\//i.exec(raw);
  if (m === null) throw new PassUrlError(`invalid URL prefix in "${raw}"`);
  const scheme = m[1]!.toLowerCase() as "http" | "https";
  const rest = raw.slice(m[0].length);
  const defPort = scheme === "https" ? 443 : 80;

  if (rest.slice(0, 5).toLowerCase() === "unix:") {
    // unix:/path[:uri] — the path ends at the first ':' after "unix:".
    const body = rest.slice(5);
    const colon = body.indexOf(":");
    const path = colon < 0 ? body : body.slice(0, colon);
    const uri = colon < 0 ? null : body.slice(colon + 1);
    if (path === "") throw new PassUrlError(`no path in the unix domain socket "${raw}"`);
    return {
      scheme,
      host: "localhost",
      port: 0,
      noPort: true,
      unixPath: path,
      uri: uri === "" ? null : uri,
      proxyHost: "localhost",
      proxyPort: "",
      url: raw.slice(0, m[0].length + 5 + path.length),
    };
  }

  const slash = rest.search(/[/?]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  let uri = slash < 0 ? null : rest.slice(slash);
  if (uri !== null && uri.startsWith("?")) uri = "/" + uri;
  let host: string;
  let portText = "";
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end < 0) throw new PassUrlError(`invalid IPv6 address in "${raw}"`);
    host = authority.slice(0, end + 1);
    const after = authority.slice(end + 1);
    if (after !== "") {
      if (!after.startsWith(":")) throw new PassUrlError(`invalid host in "${raw}"`);
      portText = after.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? "" : authority.slice(colon + 1);
  }
  if (host === "") throw new PassUrlError(`no host in "${raw}"`);
  let port = defPort;
  const noPort = portText === "";
  if (!noPort) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new PassUrlError(`invalid port in "${raw}"`);
    }
    port = Number(portText);
  }
  const proxyHost = noPort || port === defPort ? host : `${host}:${port}`;
  return {
    scheme,
    host,
    port,
    noPort,
    unixPath: null,
    uri,
    proxyHost,
    proxyPort: String(port),
    url: raw.slice(0, m[0].length + authority.length),
  };
}

/** The host without IPv6 brackets, for connecting. */
export function connectHost(t: PassTarget): string {
  return t.host.startsWith("[") ? t.host.slice(1, -1) : t.host;
}

/** Whether the target's host is an IP literal (never an upstream name). */
export function isLiteralHost(t: PassTarget): boolean {
  return isIP(connectHost(t)) !== 0;
}

/**
 * nginx's NGX_ESCAPE_URI set: controls, space, '#', '%', '?', DEL and non-ASCII bytes
 * are percent-encoded when a decoded URI goes back on the wire.
 */
export function escapeUri(decoded: string): string {
  const bytes = Buffer.from(decoded, "utf8");
  let out = "";
  let plainFrom = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b <= 0x20 || b === 0x23 || b === 0x25 || b === 0x3f || b >= 0x7f) {
      out +=
        bytes.toString("latin1", plainFrom, i) +
        "%" +
        b.toString(16).toUpperCase().padStart(2, "0");
      plainFrom = i + 1;
    }
  }
  return out + bytes.toString("latin1", plainFrom);
}

export interface UpstreamUriInput {
  /** The URI part of proxy_pass (null when none). */
  readonly passUri: string | null;
  /** proxy_pass contained variables. */
  readonly passHasVariables: boolean;
  /** The request-target as received ($request_uri). */
  readonly requestUri: string;
  /** Decoded, normalised $uri. */
  readonly uri: string;
  readonly args: string;
  readonly locationPrefix: string | null;
  readonly uriChanged: boolean;
}

/** The request-target sent upstream, by nginx's rules. */
export function upstreamUri(i: UpstreamUriInput): string {
  // Variables and a URI part: the evaluated URI is used verbatim.
  if (i.passHasVariables && i.passUri !== null) return i.passUri;
  // No URI part and the URI was not rewritten: the client's request-target as sent.
  if (i.passUri === null && !i.uriChanged) return i.requestUri;
  // A rewritten URI ignores the pass URI (nginx: valid_location is cleared by rewrite).
  const replace = i.passUri !== null && !i.uriChanged;
  const locLen = replace && i.locationPrefix !== null ? i.locationPrefix.length : 0;
  const head = replace ? i.passUri : "";
  const tail = i.uri.length >= locLen ? i.uri.slice(locLen) : "";
  return head + escapeUri(tail) + (i.args !== "" ? "?" + i.args : "");
}
