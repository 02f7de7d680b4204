/**
 * The virtual server for a Host value, remembered for the last few distinct values per
 * listen group: normalizeHost + selectServer (exact, wildcard, regex names) run once per
 * value instead of once per request. Bounded: past MAX values the memory starts over, so
 * clients sending many different Hosts cost what they cost without it.
 */
import {
  normalizeHost,
  selectServer,
  type ListenGroup,
  type ServerChoice,
} from "../config/nginx/index.js";

export interface HostChoice {
  /** nginx's $host spelling (lower case, port removed); null for an invalid Host (400). */
  readonly host: string | null;
  readonly choice: ServerChoice;
}

const MAX = 16;

export class ServerChooser {
  private readonly byGroup = new Map<ListenGroup, Map<string, HostChoice>>();
  private readonly noHost = new Map<ListenGroup, HostChoice>();

  /** `rawHost` is the Host (or absolute-form authority) as sent; null when there is none. */
  choose(group: ListenGroup, rawHost: string | null): HostChoice {
    if (rawHost === null) {
      let c = this.noHost.get(group);
      if (c === undefined) this.noHost.set(group, (c = compute(group, null)));
      return c;
    }
    let m = this.byGroup.get(group);
    if (m === undefined) this.byGroup.set(group, (m = new Map<string, HostChoice>()));
    let c = m.get(rawHost);
    if (c === undefined) {
      if (m.size >= MAX) m.clear();
      m.set(rawHost, (c = compute(group, rawHost)));
    }
    return c;
  }
}

function compute(group: ListenGroup, rawHost: string | null): HostChoice {
  const host = rawHost === null ? "" : normalizeHost(rawHost);
  return { host, choice: selectServer(group, host ?? "") };
}
