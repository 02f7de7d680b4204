// Issue 6: a real browser (Debian's headless Chromium) through narwhal, in both layouts:
// the admin login page loads with its stylesheet applied (a computed style), and the
// test's superuser logs in to "Site administration".
//
// Browser, front and app run in a network namespace of their own so that the site file
// keeps the article's ports (listen 80, upstream 127.0.0.1:8000): with `proxy_set_header
// Host $host` Django sees the host without its port, and a browser's POST carries
// `Origin: http://HOST:PORT`, which Django's CSRF check only accepts on port 80 (the same
// holds behind nginx; see docs/deployment.md).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { prepareDjango, stopAll, type DjangoSite } from "./harness.js";
import { oneProcess, twoProcesses, type Layout } from "./layouts.js";
import { Hosts, netnsRefused } from "./netns.js";

const CHROMIUM = "/usr/bin/chromium";
const NO_APP_PASS = /unknown directive "(app|app_pass)"/;

const refused = netnsRefused();
const hosts = new Hosts();
let ns = "";
let dj: DjangoSite;
let browser: Browser | null = null;
before(async () => {
  if (refused !== null) return;
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`,
  );
  ns = hosts.add("web");
  dj = await prepareDjango();
  // Playwright drives Chromium over pipes, so the browser can live in the namespace.
  const wrapper = join(dj.dir, "chromium-in-netns");
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  browser = await chromium.launch({
    executablePath: wrapper,
    timeout: 20_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
after(async () => {
  await browser?.close();
  await stopAll();
  hosts.destroy();
  dj?.cleanup();
});

interface Seen {
  url: string;
  status: number;
  type: string;
}

/** Log in through the browser; returns every response the pages loaded. */
async function loginInBrowser(): Promise<Seen[]> {
  assert.ok(browser);
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const seen: Seen[] = [];
  page.on("response", (r) => {
    seen.push({ url: r.url(), status: r.status(), type: r.headers()["content-type"] ?? "" });
  });
  try {
    const base = "http://127.0.0.1";
    const res = await page.goto(`${base}/admin/login/?next=/admin/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), "Log in | Django site admin");

    // base.css is applied: the header's colour and the body's font come from it (the
    // defaults would be transparent and the browser's serif font).
    const header = await page.evaluate(
      "getComputedStyle(document.querySelector('#header')).backgroundColor",
    );
    assert.equal(
      header,
      "rgb(65, 118, 144)",
      "admin/css/base.css: #header { background: #417690 }",
    );
    const font = await page.evaluate<string>("getComputedStyle(document.body).fontFamily");
    assert.match(font, /Segoe UI|system-ui|Roboto/, `admin font stack, got ${font}`);
    const sheets = await page.evaluate<number>("document.styleSheets.length");
    assert.ok(sheets >= 2, `stylesheets loaded: ${sheets}`);

    await page.fill("#id_username", dj.user);
    await page.fill("#id_password", dj.password);
    await Promise.all([page.waitForURL(`${base}/admin/`), page.click("input[type=submit]")]);
    assert.equal(await page.title(), "Site administration | Django site admin");
    const h1 = await page.textContent("#content h1");
    assert.equal(h1, "Site administration");
    assert.match((await page.textContent("#user-tools")) ?? "", new RegExp(dj.user, "i"));
  } finally {
    await context.close();
  }
  return seen;
}

function checkResponses(seen: readonly Seen[]): void {
  const css = seen.filter((s) => /\/static\/admin\/css\/.*\.css$/.test(s.url));
  assert.ok(css.length >= 2, `admin CSS requested: ${JSON.stringify(seen)}`);
  for (const s of css) {
    // The admin index revalidates what the login page loaded: 304 from the ETag.
    if (s.status === 304) continue;
    assert.equal(s.status, 200, s.url);
    assert.equal(s.type, "text/css", s.url);
  }
  assert.ok(css.some((s) => s.status === 200));
  const failed = seen.filter((s) => s.status >= 400);
  assert.deepEqual(failed, [], "no response failed");
}

const AT = { appPort: 8000, frontPort: 80 } as const;

void describe("Chromium through the two-process layout", () => {
  let layout: Layout | null = null;
  before(async () => {
    if (refused === null) layout = await twoProcesses(dj, { ...AT, netns: ns });
  });
  after(async () => {
    await layout?.stop();
  });
  void it("loads the styled login page and logs in to the admin", async (t) => {
    if (refused !== null) {
      t.skip(`no network namespace for the browser: ${refused}`);
      return;
    }
    checkResponses(await loginInBrowser());
  });
});

void describe("Chromium through the one-process layout (app_pass)", () => {
  let layout: Layout | string = "";
  before(async () => {
    if (refused !== null) return;
    layout = await oneProcess(dj, { ...AT, netns: ns });
    if (typeof layout === "string" && !NO_APP_PASS.test(layout))
      throw new Error(`the one-process site is refused:\n${layout}`);
  });
  after(async () => {
    if (typeof layout !== "string") await layout.stop();
  });
  void it("loads the styled login page and logs in to the admin", async (t) => {
    if (refused !== null) {
      t.skip(`no network namespace for the browser: ${refused}`);
      return;
    }
    if (typeof layout === "string") {
      t.skip(`app/app_pass not in this build: ${layout}`);
      return;
    }
    checkResponses(await loginInBrowser());
  });
});
