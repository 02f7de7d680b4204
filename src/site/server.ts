/**
 * A running site: one HttpServer whose listeners follow the config's listen groups, and
 * the current Site that every new request reads. reload() swaps configs the way nginx
 * does, minus the worker processes: sockets that stay are kept (connections in flight
 * finish on the old config), new ones are bound first (a failure keeps the old config),
 * gone ones are closed, and a socket whose limits changed is rebound.
 */
import type { NginxConfig } from "../config/nginx/index.js";
import type { Logger } from "../core/log.js";
import type { HttpLimits } from "../http/limits.js";
import { HttpServer, type Listener, type ListenerAddress } from "../http/server.js";
import { listenPlan, type ListenPlan } from "./listeners.js";
import { siteHandler } from "./pipeline.js";
import { closeSite, createSite, type Site, type SiteOptions } from "./site.js";

interface Bound {
  readonly plan: ListenPlan;
  readonly listener: Listener;
}

/** Retired sites are closed once their requests have had time to finish. */
const RETIRE_MS = 30_000;

function sameLimits(a: HttpLimits, b: HttpLimits): boolean {
  return (
    JSON.stringify({ ...a, proxyAllow: 0, forwardedAllow: 0 }) ===
    JSON.stringify({ ...b, proxyAllow: 0, forwardedAllow: 0 })
  );
}

export class SiteServer {
  readonly http: HttpServer;
  private current: Site;
  private readonly bound = new Map<string, Bound>();

  private constructor(
    site: Site,
    private readonly log: Logger,
    private readonly siteOptions: SiteOptions,
  ) {
    this.current = site;
    this.http = new HttpServer({
      handler: (_req, res) => {
        res.sendError(500);
      },
      logger: log,
      maxConnections: Math.max(1, site.config.main.worker_connections),
    });
  }

  /** Build the site and bind every listener; throws ConfigError when a socket cannot be bound. */
  static async start(config: NginxConfig, log: Logger, o: SiteOptions = {}): Promise<SiteServer> {
    const s = new SiteServer(createSite(config, log, o), log, o);
    try {
      for (const p of listenPlan(config)) await s.bind(p);
    } catch (err) {
      await s.http.close();
      await closeSite(s.current);
      throw err;
    }
    return s;
  }

  get site(): Site {
    return this.current;
  }

  addresses(): ListenerAddress[] {
    return this.http.address();
  }

  private async bind(plan: ListenPlan): Promise<void> {
    const listener = await this.http.addListener(plan.bind, {
      handler: siteHandler(() => this.current, plan.key),
      limits: plan.limits,
    });
    this.bound.set(plan.key, { plan, listener });
  }

  /** Switch to `config`. On failure the old config stays in force and the error is thrown. */
  async reload(config: NginxConfig): Promise<void> {
    const plans = listenPlan(config);
    const added: string[] = [];
    try {
      for (const p of plans) {
        if (this.bound.has(p.key)) continue;
        await this.bind(p);
        added.push(p.key);
      }
    } catch (err) {
      for (const k of added) {
        const b = this.bound.get(k);
        this.bound.delete(k);
        if (b) await this.http.removeListener(b.listener);
      }
      throw err;
    }
    const old = this.current;
    this.current = createSite(config, this.log, this.siteOptions);
    const wanted = new Map(plans.map((p) => [p.key, p]));
    for (const [key, b] of [...this.bound]) {
      const p = wanted.get(key);
      if (p === undefined) {
        this.bound.delete(key);
        await this.http.removeListener(b.listener);
      } else if (!added.includes(key) && !sameLimits(p.limits, b.plan.limits)) {
        this.bound.delete(key);
        await this.http.removeListener(b.listener);
        await this.bind(p);
      }
    }
    setTimeout(() => void closeSite(old), RETIRE_MS).unref();
  }

  /** USR1: reopen the access logs and per-level error logs (the main error log is the caller's). */
  reopenLogs(): void {
    this.current.accessLogs.reopen();
    this.current.errorLogs.reopen();
  }

  /** Stop accepting, let requests finish for up to graceMs, then close everything. */
  async stop(graceMs: number): Promise<void> {
    await this.http.drain(graceMs);
    this.bound.clear();
    await closeSite(this.current);
  }
}
