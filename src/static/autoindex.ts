/**
 * nginx's `autoindex` HTML listing (ngx_http_autoindex_module.c, html format with
 * exact sizes and GMT times): directories first, then files, each by name; hidden
 * (dot) entries left out.
 */
import type { DirEntry } from "./files.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Percent-encode what may not appear raw in a URI path (RFC 3986 §3.3 pchar + "/"). */
export function escapeUriPath(s: string): string {
  return encodeURI(s).replace(/[?#]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()] ?? "Jan"}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** The listing of `uri` (which ends with "/"). */
export function renderAutoindex(uri: string, entries: readonly DirEntry[]): string {
  const visible = entries
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) =>
      a.dir !== b.dir ? (a.dir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  const title = escapeHtml(uri);
  let out = `<html>\r\n<head><title>Index of ${title}</title></head>\r\n<body>\r\n<h1>Index of ${title}</h1><hr><pre><a href="../">../</a>\r\n`;
  for (const e of visible) {
    const name = e.dir ? e.name + "/" : e.name;
    // nginx pads names to 50 columns and cuts longer ones to 47 + "..>".
    const shown = name.length > 50 ? name.slice(0, 47) + "..>" : name;
    const pad = " ".repeat(Math.max(1, 51 - shown.length));
    const size = e.dir ? "-" : String(e.size);
    out += `<a href="${escapeHtml(escapeUriPath(name))}">${escapeHtml(shown)}</a>${pad}${stamp(e.mtimeMs)} ${size.padStart(19)}\r\n`;
  }
  out += "</pre><hr></body>\r\n</html>\r\n";
  return out;
}
