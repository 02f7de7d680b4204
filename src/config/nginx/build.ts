/**
 * The builder: walks the parsed directives with the table (context, block, arity,
 * duplicates, parser), collects scopes, then merges (merge.ts), validates variables and
 * assembles the frozen NginxConfig.
 */
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import { compileLocationTree, type LocationSpec } from "../../router/tree.js";
import type { Directive } from "./ast.js";
import { parseIfCondition } from "./conditions.js";
import type { ApplyContext, Context, DirectiveDecl } from "./directive-types.js";
import {
  deepFreeze,
  httpDefaults,
  mainDefaults,
  mergeConf,
  upstreamDefaults,
  type Scope,
} from "./merge.js";
import { Settings } from "../resolved.js";
import type { SettingValue } from "../setting-types.js";
import { appKey } from "./directives-app.js";
import type {
  AppConf,
  HttpConf,
  IfCondition,
  Listen,
  ListenGroup,
  Location,
  MainConf,
  NginxConfig,
  Server,
  ServerName,
  Statement,
  Upstream,
  UpstreamServer,
} from "./model.js";
import { compileRegex, type CompiledRegex } from "./regex.js";
import { declarationsOf, lookupDirective } from "./table.js";
import {
  compileTemplate,
  isBuiltinVariable,
  TemplateSyntaxError,
  templateVariables,
  type Template,
} from "./variables.js";

/** Position text for -g directives: nginx says "in command line". */
export const COMMAND_LINE = "command line";

function fail(message: string, file: string, line: number): never {
  if (file === COMMAND_LINE) throw new ConfigError(`${message} in command line`);
  throw new ConfigError(message, file, line);
}

interface LocationDraft {
  modifier: Location["modifier"];
  name: string;
  regex: CompiledRegex | null;
  scope: Scope;
  children: LocationDraft[];
  file: string;
  line: number;
}

interface ServerDraft {
  scope: Scope;
  locations: LocationDraft[];
  file: string;
  line: number;
}

/** An `if` block before merging: its scope becomes the statement's conf. */
interface IfDraft {
  kind: "if-draft";
  condition: IfCondition;
  scope: Scope;
  file: string;
  line: number;
}

type Draft = Statement | IfDraft;

interface Owner {
  server: ServerDraft | null;
  location: LocationDraft | null;
}

const PREDEFINED_COMBINED =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

export interface BuildInput {
  readonly file: string;
  readonly prefix: string;
  readonly directives: readonly Directive[];
  /** `-g` directives, applied to the main context first. */
  readonly globals: readonly Directive[];
  /** Directives of the implicit http level of a bare site file (mime.types, default_type). */
  readonly bareDefaults: readonly Directive[];
}

export class Builder {
  private readonly userVars = new Set<string>();
  private readonly varUses: { name: string; file: string; line: number }[] = [];
  private readonly logFormats = new Map<
    string,
    { escape: "default" | "json" | "none"; format: Template }
  >();
  private readonly upstreams = new Map<string, { file: string; line: number; scope: Scope }>();
  private readonly apps = new Map<string, { file: string; line: number; scope: Scope }>();
  private readonly servers: ServerDraft[] = [];
  private readonly scripts = new Map<Scope, Draft[]>();
  private readonly main: Scope = { ctx: "main", parent: null, values: new Map() };
  private readonly events: Scope = { ctx: "events", parent: null, values: new Map() };
  private readonly http: Scope;
  private readonly defaults: Scope;
  private eventsSeen = false;
  private httpSeen = false;
  private bare = false;

  constructor(private readonly input: BuildInput) {
    this.defaults = { ctx: "http", parent: null, values: new Map() };
    this.http = { ctx: "http", parent: this.defaults, values: new Map() };
    this.logFormats.set("combined", {
      escape: "default",
      format: compileTemplate(PREDEFINED_COMBINED),
    });
  }

  build(): NginxConfig {
    const { directives, globals } = this.input;
    this.bare = !directives.some((d) => d.name === "http");
    this.walk(globals, this.main, { server: null, location: null });
    if (this.bare)
      this.walk(this.input.bareDefaults, this.defaults, { server: null, location: null });
    this.walk(directives, this.main, { server: null, location: null });
    if (!this.bare && !this.eventsSeen)
      throw new ConfigError('no "events" section in configuration');
    for (const u of this.varUses) {
      if (!isBuiltinVariable(u.name) && !this.userVars.has(u.name))
        fail(`unknown "${u.name}" variable`, u.file, u.line);
    }
    return deepFreeze(this.assemble());
  }

  // ---------------------------------------------------------------- walking

  private walk(dirs: readonly Directive[], scope: Scope, owner: Owner): void {
    for (const d of dirs) this.apply(d, scope, owner);
  }

  private apply(d: Directive, scope: Scope, owner: Owner): void {
    if (declarationsOf(d.name).length === 0) fail(`unknown directive "${d.name}"`, d.file, d.line);
    let target = scope;
    let decl = lookupDirective(d.name, scope.ctx);
    if (decl === null && this.bare && scope === this.main) {
      // A bare site file: http-level directives at the top sit in the implicit http level.
      decl = lookupDirective(d.name, "http");
      target = this.http;
    }
    if (decl === null) fail(`"${d.name}" directive is not allowed here`, d.file, d.line);
    if (decl.block && d.block === null)
      fail(`directive "${d.name}" has no opening "{"`, d.file, d.line);
    if (!decl.block && d.block !== null)
      fail(`directive "${d.name}" is not terminated by ";"`, d.file, d.line);
    const [min, max] = decl.args;
    if (d.args.length < min || d.args.length > max)
      fail(`invalid number of arguments in "${d.name}" directive`, d.file, d.line);
    const c = this.context(d, target.ctx);
    const h = decl.handler;
    switch (h.kind) {
      case "ignore":
        h.validate?.(c);
        return;
      case "statement": {
        const body = h.parse(c);
        if (body) this.script(target).push({ ...body, file: d.file, line: d.line });
        return;
      }
      case "setting": {
        const value = h.parse(c);
        const prev = target.values.get(h.key);
        if (prev) {
          if (!h.multiple || !h.accumulate) {
            if (prev.directive !== d.name) {
              fail(
                `"${d.name}" directive is duplicate, "${prev.directive}" directive was specified earlier`,
                d.file,
                d.line,
              );
            }
            fail(`"${d.name}" directive is duplicate`, d.file, d.line);
          }
          target.values.set(h.key, {
            value: h.accumulate(prev.value, value),
            directive: d.name,
            file: d.file,
            line: d.line,
          });
        } else target.values.set(h.key, { value, directive: d.name, file: d.file, line: d.line });
        return;
      }
      case "structure":
        this.structure(decl, d, target, owner, c);
        return;
    }
  }

  private script(scope: Scope): Draft[] {
    let s = this.scripts.get(scope);
    if (!s) this.scripts.set(scope, (s = []));
    return s;
  }

  private context(d: Directive, context: Context): ApplyContext {
    const c: ApplyContext = {
      name: d.name,
      args: d.args,
      quoted: d.quoted,
      file: d.file,
      line: d.line,
      prefix: this.input.prefix,
      context,
      fail: (m) => fail(m, d.file, d.line),
      invalid: (v) => fail(`invalid value "${v}" in "${d.name}" directive`, d.file, d.line),
      template: (text) => {
        let t: Template;
        try {
          t = compileTemplate(text);
        } catch (err) {
          if (err instanceof TemplateSyntaxError) fail(err.message, d.file, d.line);
          throw err;
        }
        for (const name of templateVariables(t))
          this.varUses.push({ name, file: d.file, line: d.line });
        return t;
      },
      regex: (source, caseless) => {
        const r = compileRegex(source, caseless);
        if ("error" in r) fail(r.error, d.file, d.line);
        for (const n of r.names) this.userVars.add(n.toLowerCase());
        return r;
      },
      path: (text) =>
        isAbsolute(text)
          ? text
          : resolve(this.input.prefix, text) + (text.endsWith("/") ? "/" : ""),
      declareVariable: (name) => void this.userVars.add(name),
      hasLogFormat: (name) => this.logFormats.has(name),
    };
    return c;
  }

  // ---------------------------------------------------------------- blocks

  private structure(
    decl: DirectiveDecl,
    d: Directive,
    scope: Scope,
    owner: Owner,
    c: ApplyContext,
  ): void {
    const block = d.block ?? [];
    switch (decl.name) {
      case "events":
        if (this.eventsSeen) fail('"events" directive is duplicate', d.file, d.line);
        this.eventsSeen = true;
        this.walk(block, this.events, owner);
        return;
      case "http":
        if (this.httpSeen) fail('"http" directive is duplicate', d.file, d.line);
        this.httpSeen = true;
        this.walk(block, this.http, owner);
        return;
      case "server": {
        const srv: ServerDraft = {
          scope: { ctx: "server", parent: this.http, values: new Map() },
          locations: [],
          file: d.file,
          line: d.line,
        };
        this.servers.push(srv);
        this.walk(block, srv.scope, { server: srv, location: null });
        return;
      }
      case "location":
        this.location(d, scope, owner, c);
        return;
      case "if": {
        const condition = parseIfCondition(c);
        const ifScope: Scope = {
          ctx: scope.ctx === "server" ? "sif" : "lif",
          parent: scope,
          values: new Map(),
        };
        this.script(scope).push({
          kind: "if-draft",
          condition,
          scope: ifScope,
          file: d.file,
          line: d.line,
        });
        this.walk(block, ifScope, owner);
        return;
      }
      case "types":
        this.types(block, scope, d);
        return;
      case "upstream": {
        const name = d.args[0]!.toLowerCase();
        if (this.upstreams.has(name)) fail(`duplicate upstream "${d.args[0]!}"`, d.file, d.line);
        const up = {
          file: d.file,
          line: d.line,
          scope: { ctx: "upstream" as const, parent: null, values: new Map() },
        };
        this.upstreams.set(name, up);
        this.walk(block, up.scope, owner);
        return;
      }
      case "app": {
        const name = d.args[0]!;
        if (this.apps.has(name)) fail(`duplicate app "${name}"`, d.file, d.line);
        const a = {
          file: d.file,
          line: d.line,
          scope: { ctx: "app" as const, parent: null, values: new Map() },
        };
        this.apps.set(name, a);
        this.walk(block, a.scope, owner);
        return;
      }
      case "log_format": {
        let args = [...d.args];
        const name = args.shift()!;
        let escape: "default" | "json" | "none" = "default";
        if (args[0]?.startsWith("escape=")) {
          const e = args.shift()!.slice(7);
          if (e !== "default" && e !== "json" && e !== "none")
            fail(`unknown log format escaping "${e}"`, d.file, d.line);
          escape = e;
        }
        if (args.length === 0)
          fail('invalid number of arguments in "log_format" directive', d.file, d.line);
        if (this.logFormats.has(name))
          fail(`duplicate "log_format" name "${name}"`, d.file, d.line);
        this.logFormats.set(name, { escape, format: c.template(args.join("")) });
        args = [];
        return;
      }
      default:
        throw new Error(`no structure handler for ${decl.name}`);
    }
  }

  private types(block: readonly Directive[], scope: Scope, d: Directive): void {
    const prev = scope.values.get("types");
    const map: Record<string, string> = Object.create(null) as Record<string, string>;
    if (prev) Object.assign(map, prev.value as Record<string, string>);
    for (const t of block) {
      if (t.block !== null) fail(`unexpected "{"`, t.file, t.line);
      if (t.args.length === 0)
        fail(`invalid number of arguments in "${t.name}" directive`, t.file, t.line);
      for (const ext of t.args) map[ext.toLowerCase()] = t.name;
    }
    scope.values.set("types", { value: map, directive: "types", file: d.file, line: d.line });
  }

  private location(d: Directive, scope: Scope, owner: Owner, c: ApplyContext): void {
    let modifier: Location["modifier"];
    let name: string;
    if (d.args.length === 2) {
      const m = d.args[0]!;
      if (m !== "=" && m !== "~" && m !== "~*" && m !== "^~")
        fail(`invalid location modifier "${m}"`, d.file, d.line);
      modifier = m;
      name = d.args[1]!;
    } else {
      const a = d.args[0]!;
      if (a.startsWith("=")) [modifier, name] = ["=", a.slice(1)];
      else if (a.startsWith("~*")) [modifier, name] = ["~*", a.slice(2)];
      else if (a.startsWith("~")) [modifier, name] = ["~", a.slice(1)];
      else if (a.startsWith("^~")) [modifier, name] = ["^~", a.slice(2)];
      else if (a.startsWith("@")) [modifier, name] = ["@", a];
      else [modifier, name] = ["", a];
    }
    const regex = modifier === "~" || modifier === "~*" ? c.regex(name, modifier === "~*") : null;
    const parent = owner.location;
    if (parent) {
      if (parent.modifier === "=")
        fail(
          `location "${name}" cannot be inside the exact location "${parent.name}"`,
          d.file,
          d.line,
        );
      if (parent.modifier === "@")
        fail(
          `location "${name}" cannot be inside the named location "${parent.name}"`,
          d.file,
          d.line,
        );
      if (modifier === "@")
        fail(`named location "${name}" can be on the server level only`, d.file, d.line);
      if (regex === null && !name.startsWith(parent.name))
        fail(`location "${name}" is outside location "${parent.name}"`, d.file, d.line);
    }
    const siblings = parent ? parent.children : owner.server!.locations;
    if (regex === null) {
      const exact = modifier === "=";
      if (
        siblings.some((s) => s.regex === null && s.name === name && (s.modifier === "=") === exact)
      ) {
        fail(`duplicate location "${name}"`, d.file, d.line);
      }
    }
    const loc: LocationDraft = {
      modifier,
      name,
      regex,
      scope: { ctx: "location", parent: scope, values: new Map() },
      children: [],
      file: d.file,
      line: d.line,
    };
    siblings.push(loc);
    this.walk(d.block ?? [], loc.scope, { server: owner.server, location: loc });
  }

  // ---------------------------------------------------------------- assembling

  private assemble(): NginxConfig {
    const prefix = this.input.prefix;
    const mainBase = mainDefaults(prefix);
    const get = <K extends keyof MainConf>(s: Scope, k: K): MainConf[K] =>
      (s.values.get(k)?.value as MainConf[K] | undefined) ?? mainBase[k];
    const main: MainConf = {
      worker_processes: get(this.main, "worker_processes"),
      event_loop_sched: get(this.main, "event_loop_sched"),
      pid: get(this.main, "pid"),
      user: get(this.main, "user"),
      worker_rlimit_nofile: get(this.main, "worker_rlimit_nofile"),
      error_log: get(this.main, "error_log"),
      worker_connections: get(this.events, "worker_connections"),
    };
    const base: HttpConf = { ...httpDefaults(prefix), error_log: main.error_log };
    const memo = new Map<Scope, HttpConf>();
    const conf = (s: Scope): HttpConf => mergeConf(s, base, memo);

    const upstreams: Record<string, Upstream> = {};
    const upDefaults = upstreamDefaults(prefix);
    for (const [name, u] of this.upstreams) {
      const servers =
        (u.scope.values.get("upstream_server")?.value as UpstreamServer[] | undefined) ?? [];
      if (servers.length === 0) fail("no servers are inside upstream", u.file, u.line);
      // Values were produced by the table's parsers for these keys (see directives-proxy.ts).
      const v = (key: string): unknown => u.scope.values.get(key)?.value ?? upDefaults[key];
      upstreams[name] = {
        name,
        servers,
        ...(v("upstream_balance") as Pick<Upstream, "balance" | "hashKey" | "hashConsistent">),
        keepalive: v("upstream_keepalive") as number | null,
        keepaliveTimeout: v("upstream_keepalive_timeout") as number,
        keepaliveRequests: v("upstream_keepalive_requests") as number,
        file: u.file,
        line: u.line,
      };
    }
    const apps = this.assembleApps();
    const resolveConf = (s: Scope): HttpConf => {
      const cf = conf(s);
      const own = s.values.get("app_pass");
      if (own && !Object.hasOwn(apps, own.value as string))
        fail(`unknown app "${own.value as string}"`, own.file, own.line);
      const pass = s.values.get("proxy_pass");
      // One content handler per location (nginx: "proxy_pass" directive is duplicate).
      if (own && pass) {
        const [first, second] = own.line < pass.line ? [own, pass] : [pass, own];
        fail(
          `"${second.directive}" directive is duplicate, "${first.directive}" directive was specified earlier`,
          second.file,
          second.line,
        );
      }
      const pp = cf.proxy_pass;
      if (pp?.upstream && !Object.hasOwn(upstreams, pp.upstream.toLowerCase()))
        return { ...cf, proxy_pass: { ...pp, upstream: null } };
      return cf;
    };
    const finishScript = (s: Scope): Statement[] =>
      (this.scripts.get(s) ?? []).map((st): Statement => {
        if (st.kind !== "if-draft") return st;
        return {
          kind: "if",
          condition: st.condition,
          script: finishScript(st.scope),
          conf: resolveConf(st.scope),
          file: st.file,
          line: st.line,
        };
      });
    const finishLocation = (l: LocationDraft): { loc: Location; spec: LocationSpec<Location> } => {
      const cf = resolveConf(l.scope);
      const pp = l.scope.values.get("proxy_pass");
      if (pp && cf.proxy_pass?.uri != null && (l.regex !== null || l.modifier === "@")) {
        fail(
          '"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block',
          pp.file,
          pp.line,
        );
      }
      const kids = l.children.map(finishLocation);
      const loc: Location = {
        modifier: l.modifier,
        name: l.name,
        regex: l.regex,
        file: l.file,
        line: l.line,
        conf: cf,
        script: finishScript(l.scope),
        locations: kids.map((k) => k.loc),
      };
      const spec: LocationSpec<Location> = {
        modifier: l.modifier,
        name: l.name,
        regex: l.regex?.regex ?? null,
        autoRedirect:
          pp !== undefined && l.regex === null && l.modifier !== "@" && l.name.endsWith("/"),
        value: loc,
        children: kids.map((k) => k.spec),
      };
      return { loc, spec };
    };

    const servers: Server[] = this.servers.map((sd) => {
      const listen =
        (sd.scope.values.get("listen")?.value as Listen[] | undefined) ?? this.defaultListen();
      const keys = new Set<string>();
      for (const l of listen) {
        if (keys.has(l.key)) fail(`a duplicate listen ${l.key}`, l.file, l.line);
        keys.add(l.key);
      }
      const names = (sd.scope.values.get("server_name")?.value as
        { text: string; names: ServerName[] }[] | undefined) ?? [
        { text: "", names: [{ kind: "exact", name: "" }] },
      ];
      const locs = sd.locations.map(finishLocation);
      return {
        file: sd.file,
        line: sd.line,
        listen,
        serverNameText: names.map((n) => n.text),
        serverNames: names.flatMap((n) => n.names),
        conf: resolveConf(sd.scope),
        script: finishScript(sd.scope),
        locations: locs.map((l) => l.loc),
        router: compileLocationTree(locs.map((l) => l.spec)),
      };
    });

    const groups = new Map<string, { listen: Listen; servers: Server[]; def: Server | null }>();
    for (const s of servers) {
      for (const l of s.listen) {
        let g = groups.get(l.key);
        if (!g) groups.set(l.key, (g = { listen: l, servers: [], def: null }));
        if (!g.servers.includes(s)) g.servers.push(s);
        if (l.defaultServer) {
          if (g.def !== null) fail(`a duplicate default server for ${l.key}`, l.file, l.line);
          g.def = s;
          g.listen = l;
        }
      }
    }
    const listenGroups: ListenGroup[] = [...groups].map(([key, g]) => ({
      key,
      listen: g.listen,
      servers: g.servers,
      defaultServer: g.def ?? g.servers[0]!,
    }));

    return {
      file: this.input.file,
      prefix,
      main,
      http: resolveConf(this.http),
      servers,
      upstreams,
      apps,
      logFormats: Object.fromEntries(this.logFormats),
      listenGroups,
      userVariables: [...this.userVars].sort(),
      fullConfig: !this.bare,
    };
  }

  /** The `app` blocks: `module` required, every setting over the settings table's defaults. */
  private assembleApps(): Record<string, AppConf> {
    const apps: Record<string, AppConf> = {};
    for (const [name, a] of this.apps) {
      const changes: Record<string, SettingValue> = {};
      let module: string | null = null;
      for (const [key, e] of a.scope.values) {
        const setting = key.slice(appKey("").length);
        if (setting === "wsgi_app") module = e.value as string;
        else changes[setting] = e.value as SettingValue;
      }
      if (module === null) fail(`no "module" directive inside app "${name}"`, a.file, a.line);
      apps[name] = {
        name,
        module,
        settings: new Settings().with(changes),
        file: a.file,
        line: a.line,
      };
    }
    return apps;
  }

  private defaultListen(): Listen[] {
    return [
      {
        key: "0.0.0.0:80",
        host: "0.0.0.0",
        port: 80,
        unix: null,
        defaultServer: false,
        backlog: null,
        ipv6only: true,
        reuseport: false,
        file: "<default>",
        line: 0,
      },
    ];
  }
}
