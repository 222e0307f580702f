// What the walk records around each step: screenshots, the API calls and their answers, console
// errors, uncaught page errors, toasts, socket.io frames, and whether the page went blank.
// walk.mjs holds the journey itself; docs/FRONTEND.md explains both.

import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const cfg = {
  origin: process.env.WALK_ORIGIN,
  apiOrigin: process.env.WALK_API_ORIGIN || process.env.WALK_ORIGIN,
  email: process.env.WALK_EMAIL || "admin@demo.zapx",
  password: process.env.WALK_PASSWORD,
  out: process.env.WALK_OUT || "walk-out",
  timezone: process.env.WALK_TIMEZONE || "America/Sao_Paulo",
  sheet: process.env.WALK_SHEET || "",
  calls: process.env.WALK_CALLS ? JSON.parse(fs.readFileSync(process.env.WALK_CALLS, "utf8")) : [],
  realtime: process.env.WALK_REALTIME === "1",
  strict: process.env.WALK_STRICT === "1",
  headed: process.env.WALK_HEADED === "1",
  chromium: process.env.CHROMIUM || "/usr/bin/chromium",
};

// The reCAPTCHA widget loads from Google, which this machine cannot reach: the walk answers
// recaptcha/api.js with this stand-in. It draws a button where the widget would be; clicking it
// hands the page a token, as solving the real challenge does (the backend is not asked to check
// it: zapx has no reCAPTCHA).
const RECAPTCHA_STUB = `(() => {
  const src = (document.currentScript && document.currentScript.src) || "";
  const onload = (/[?&]onload=([^&]+)/.exec(src) || [])[1];
  const widgets = [];
  window.grecaptcha = {
    render(el, opts) {
      const id = widgets.length;
      const box = typeof el === "string" ? document.getElementById(el) : el;
      const button = document.createElement("button");
      button.type = "button";
      button.id = "walk-recaptcha-stub";
      button.textContent = "reCAPTCHA stand-in of the walk: I am not a robot";
      button.style.cssText = "padding:12px;border:1px solid #999;background:#f9f9f9";
      widgets.push({ token: "" });
      button.onclick = () => {
        widgets[id].token = "walk-recaptcha-stub-token";
        button.textContent = "reCAPTCHA stand-in: solved";
        if (opts && opts.callback) opts.callback("walk-recaptcha-stub-token");
      };
      box.appendChild(button);
      return id;
    },
    getResponse: (id) => (widgets[id || 0] || {}).token || "",
    reset: (id) => { if (widgets[id || 0]) widgets[id || 0].token = ""; },
    execute() {},
    ready: (cb) => cb(),
  };
  // The real api.js loads more code and calls back later: react-async-script wants its
  // script's load event first ("Script is not loaded." otherwise).
  if (onload) setTimeout(() => { if (typeof window[onload] === "function") window[onload](); }, 50);
})();`;

// Toasts vanish after 2 s (react-toastify autoClose): a page-side observer keeps their text.
// And an unhandled rejection is named on the console first (Playwright reports it as a page
// error too, without saying which kind it was).
const TOAST_RECORDER = `(() => {
  window.addEventListener("unhandledrejection", (e) => {
    const r = e.reason;
    console.debug("walk-rejection: " + String((r && r.message) || r));
  }, true);
  window.__walkToasts = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1 && n.classList && n.classList.contains("Toastify__toast")) {
        setTimeout(() => window.__walkToasts.push(
          (n.classList.contains("Toastify__toast--error") ? "error: " : "") +
          (n.innerText || "").trim()), 50);
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();`;

// Access tokens in URLs (the socket's ?token=) stay out of the report.
const redact = (text) => text.replace(/token=[^&'"\s]+/g, "token=…");

function callTemplates() {
  return cfg.calls.map((c) => {
    const [p] = c.path.split("?");
    const body = p.replace(/\/+$/, "").replace(/^\/?/, "/")
      .replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
    return { ...c, re: new RegExp(`^${body}/?$`) };
  });
}

export class Walk {
  constructor() {
    this.steps = [];
    this.current = null;
    this.templates = callTemplates();
    this.external = new Set();
    this.sockets = [];
    this.assists = [];
    this.loginGaps = [];
    this.rejectedNow = new Set();
  }

  async open() {
    fs.mkdirSync(cfg.out, { recursive: true });
    this.browser = await chromium.launch({
      executablePath: cfg.chromium,
      headless: !cfg.headed,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    this.context = await this.browser.newContext({
      locale: "pt-BR",
      timezoneId: cfg.timezone,
      viewport: { width: 1440, height: 900 },
      serviceWorkers: "block",
    });
    await this.context.addInitScript(TOAST_RECORDER);
    const own = [new URL(cfg.origin).origin, new URL(cfg.apiOrigin).origin];
    await this.context.route(
      (url) => !own.includes(url.origin),
      (route) => {
        const url = new URL(route.request().url());
        this.external.add(url.host);
        if (/\/recaptcha\/(api|enterprise)\.js/.test(url.pathname)) {
          return route.fulfill({ contentType: "application/javascript", body: RECAPTCHA_STUB });
        }
        const css = url.host === "fonts.googleapis.com";
        return route.fulfill({ status: 200, contentType: css ? "text/css" : "text/plain", body: "" });
      },
    );
    // A routed request escapes the browser's CORS checks (Playwright answers its preflight):
    // in --strict with --cross-origin the login is left alone, so CORS decides as it would.
    this.crossOrigin = own[0] !== own[1];
    if (!(cfg.strict && this.crossOrigin)) {
      await this.context.route("**/auth/login", (route) => this.assistLogin(route));
    }
    this.page = await this.context.newPage();
    this.page.setDefaultTimeout(8000);
    this.listen(this.page);
  }

  // The frontend refuses a login whose answer lacks what its pages read at once (a future
  // company.dueDate, user.queues, the campaignsEnabled setting), and then nothing after the login
  // can be seen. Unless --strict, the walk fills in what is missing in the login's answer, says
  // so in the login step (which fails for it) and in the summary, and walks on, so each later
  // page shows its own failures.
  // The walk did for the user what the frontend could not, to judge the next pages on their
  // own; every such help is listed in the summary (a walk that needed none is the goal).
  assist(what) {
    if (!this.assists.includes(what)) this.assists.push(what);
    this.rec("notes", `the walk helped: ${what}`);
  }

  async assistLogin(route) {
    if (route.request().method() !== "POST") return route.continue();
    const resp = await route.fetch();
    let body = null;
    try { body = await resp.json(); } catch { /* not JSON */ }
    if (resp.status() !== 200 || !body || !body.user) return route.fulfill({ response: resp });
    const user = body.user;
    const company = user.company || (user.company = {});
    const patched = [];
    if (this.crossOrigin) patched.push(...(await this.corsGaps(route.request().url(), resp)));
    if (!company.dueDate || new Date(company.dueDate) <= new Date()) {
      patched.push(`user.company.dueDate ${JSON.stringify(company.dueDate)} -> 2099-12-31`);
      company.dueDate = "2099-12-31T00:00:00.000Z";
    }
    if (!Array.isArray(user.queues)) {
      patched.push(`user.queues ${JSON.stringify(user.queues)} -> []`);
      user.queues = [];
    }
    const settings = Array.isArray(company.settings) ? company.settings : [];
    if (!settings.some((s) => s.key === "campaignsEnabled" && s.value === "true")) {
      patched.push("user.company.settings += {key: campaignsEnabled, value: \"true\"}");
      company.settings = [...settings, { key: "campaignsEnabled", value: "true" }];
    }
    this.loginGaps = patched;
    if (cfg.strict) return route.fulfill({ response: resp });
    for (const p of patched) this.assist(`patched the login answer: ${p}`);
    return route.fulfill({ response: resp, json: body });
  }

  // What the browser would have refused of the login, had the walk not routed it: the
  // preflight and the answer must allow the page's exact origin, with credentials.
  async corsGaps(url, resp) {
    const origin = new URL(cfg.origin).origin;
    const gaps = [];
    const pre = await this.context.request.fetch(url, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    const allows = (h) => h["access-control-allow-origin"] === origin &&
      h["access-control-allow-credentials"] === "true";
    if (!allows(pre.headers())) {
      gaps.push(`CORS preflight answered ${pre.status()} without Access-Control-Allow-Origin: ` +
        `${origin} and -Credentials: true (the walk let the login through)`);
    }
    if (!allows(resp.headers())) gaps.push("CORS: the login's answer does not allow this origin with credentials");
    return gaps;
  }

  listen(page) {
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const text = redact(msg.text()).slice(0, 300);
      if (/^WebSocket connection to /.test(text)) return; // counted per step in `sockets`
      // React logs a render error and unmounts the app (no error boundary): a crash.
      const crash = /^(TypeError|ReferenceError|RangeError|Error: Minified React error)/.test(text);
      this.rec(crash ? "pageErrors" : "consoleErrors", text);
    });
    // Uncaught exceptions fail the step; promises nobody caught (an async effect that throws
    // after a failed call) are listed apart: the page goes on working after them.
    page.on("pageerror", (err) => {
      // The message and the first frame of the minified bundle (the build has no source maps).
      const frame = String(err.stack || "").split("\n").find((l) => /^\s+at /.test(l)) || "";
      const msg = redact(`${err.message || err}${frame ? ` (${frame.trim()})` : ""}`).slice(0, 300);
      const rejected = this.rejectedNow.has(String(err.message || err));
      this.rec(rejected ? "rejections" : "pageErrors", msg);
    });
    page.on("console", (msg) => {
      if (msg.type() === "debug" && msg.text().startsWith("walk-rejection: ")) {
        this.rejectedNow.add(msg.text().slice("walk-rejection: ".length));
      }
    });
    page.on("requestfailed", (req) => {
      if (this.isApi(req)) {
        this.rec("failedRequests", `${req.method()} ${this.pathOf(req.url())}: ` +
          `${req.failure()?.errorText || "failed"}`);
      }
    });
    page.on("response", async (resp) => {
      const req = resp.request();
      if (!this.isApi(req)) return;
      const entry = {
        method: req.method(),
        path: redact(this.pathOf(req.url())),
        status: resp.status(),
        ...this.classify(req.method(), new URL(req.url()).pathname),
      };
      this.rec("apiCalls", entry);
      let body;
      try { body = await resp.json(); } catch { /* not JSON, or none */ }
      // What the answer holds at its top level: the keys, or the length of an array.
      entry.keys = Array.isArray(body) ? `array(${body.length})`
        : body && typeof body === "object" ? Object.keys(body).join(",") : "";
      if (resp.status() >= 400) {
        const code = body && body.error ? ` ${body.error}: ${body.message || ""}` : "";
        this.rec("failedRequests",
          `${entry.method} ${entry.path} -> ${entry.status}${code} [${entry.scope}]`.slice(0, 300));
      }
    });
    page.on("websocket", (ws) => {
      const sock = { url: ws.url(), frames: [], closed: false };
      this.sockets.push(sock);
      if (this.current) this.current.sockets.opened += 1;
      ws.on("framereceived", (f) => {
        const text = typeof f.payload === "string" ? f.payload : "";
        sock.frames.push(text);
        const m = /^42(?:\/[^,]*,)?\["([^"]+)"/.exec(text);
        if (m) this.rec("socketEvents", m[1]);
      });
      ws.on("close", () => { sock.closed = true; });
      ws.on("socketerror", (e) => {
        const errors = this.current && this.current.sockets.errors;
        if (errors && !errors.includes(String(e))) errors.push(redact(String(e)).slice(0, 200));
      });
    });
  }

  isApi(req) {
    const type = req.resourceType();
    return (type === "xhr" || type === "fetch") && req.url().startsWith(new URL(cfg.apiOrigin).origin);
  }

  pathOf(url) {
    const u = new URL(url);
    return u.pathname + u.search;
  }

  classify(method, pathname) {
    const hit = this.templates.find((t) => t.method === method && t.re.test(pathname));
    return hit ? { call: hit.name, scope: hit.scope } : { call: null, scope: "unlisted" };
  }

  // Whether this step (and the `steps - 1` before it) saw a call to `pathRe` answered
  // `status`, whose JSON holds `key` at its top level ("array" for an array answer).
  answered(pathRe, { method = "GET", status = 200, key = null, steps = 1 } = {}) {
    return this.steps.slice(-steps).flatMap((s) => s.apiCalls).some((c) => c.method === method && pathRe.test(c.path.split("?")[0]) &&
      c.status === status && (!key || (key === "array" ? /^array\(/.test(c.keys || "")
        : (c.keys || "").split(",").includes(key))));
  }

  rec(kind, value) {
    if (this.current) this.current[kind].push(value);
  }

  // Nothing after this can be seen: the remaining steps are listed as not run.
  halt(reason) {
    this.halted = reason;
  }

  async step(name, title, fn) {
    const n = this.steps.length + 1;
    if (this.halted) {
      this.steps.push({ n, name, title, ok: false, error: `not run: ${this.halted}`, checks: [],
        notes: [], apiCalls: [], failedRequests: [], consoleErrors: [], pageErrors: [],
        rejections: [], socketEvents: [], sockets: { opened: 0, errors: [] }, toasts: [],
        blank: null, url: null, screenshot: null, seconds: 0 });
      return null;
    }
    const s = {
      n, name, title, ok: false, error: null, checks: [], notes: [], apiCalls: [],
      failedRequests: [], consoleErrors: [], pageErrors: [], rejections: [], socketEvents: [],
      sockets: { opened: 0, errors: [] }, toasts: [],
      blank: null, url: null, screenshot: null, seconds: 0,
    };
    this.steps.push(s);
    this.current = s;
    const started = Date.now();
    process.stderr.write(`walk: step ${n} ${name}: ${title}\n`);
    try {
      await fn(s);
    } catch (err) {
      s.error = String(err.message || err).split("\n")[0].slice(0, 300);
    }
    await this.page.waitForTimeout(800); // late answers and toasts of this step
    try {
      s.url = this.pathOf(this.page.url());
      s.blank = await this.isBlank();
      s.toasts = await this.page.evaluate(() => (window.__walkToasts || []).splice(0));
      s.screenshot = `${String(n).padStart(2, "0")}-${name}.png`;
      await this.page.screenshot({ path: path.join(cfg.out, s.screenshot) });
    } catch (err) {
      s.notes.push(`after the step: ${String(err.message || err).split("\n")[0]}`);
    }
    s.seconds = Math.round((Date.now() - started) / 100) / 10;
    s.ok = !s.error && !s.blank && s.pageErrors.length === 0 && s.checks.every((c) => c.ok);
    this.current = null;
    process.stderr.write(`walk:   ${s.ok ? "ok" : "FAILED"}${s.error ? `: ${s.error}` : ""}\n`);
    return s;
  }

  check(label, ok, detail = "") {
    this.current.checks.push({ label, ok: Boolean(ok), detail: String(detail).slice(0, 200) });
    return Boolean(ok);
  }

  note(text) {
    this.current.notes.push(String(text).slice(0, 300));
  }

  // The page the user sees is blank: React unmounted the app after an uncaught render error.
  async isBlank() {
    return this.page.evaluate(() => {
      const root = document.getElementById("root");
      return !root || root.children.length === 0 || (root.innerText || "").trim().length === 0;
    });
  }

  // Poll `fn` until it returns a truthy value or `timeoutMs` passes; returns the last value.
  async waitFor(fn, timeoutMs = 8000, everyMs = 250) {
    const end = Date.now() + timeoutMs;
    let value;
    for (;;) {
      try { value = await fn(); } catch { value = undefined; }
      if (value || Date.now() >= end) return value;
      await this.page.waitForTimeout(everyMs);
    }
  }

  // The answer to the first request matching method and path regex that `action` causes.
  async answerTo(method, pathRe, action, timeoutMs = 15000) {
    const waiting = this.page.waitForResponse(
      (r) => r.request().method() === method && pathRe.test(new URL(r.url()).pathname),
      { timeout: timeoutMs },
    ).catch(() => null);
    await action();
    const resp = await waiting;
    if (!resp) return { status: 0, json: null, request: null };
    let json = null;
    try { json = await resp.json(); } catch { /* none */ }
    let sent = null;
    try { sent = resp.request().postDataJSON(); } catch { /* multipart or none */ }
    return { status: resp.status(), json, sent };
  }

  // In-app navigation, as a user does it: the menu's link when the menu shows one, else the
  // router's own history (pushState + popstate: no reload, so no session refresh is needed).
  async go(route) {
    const link = this.page.locator(`a[href="${route}"]`).first();
    if ((await link.count()) > 0 && (await link.isVisible())) {
      await link.click();
      return "menu";
    }
    await this.page.evaluate((p) => {
      window.history.pushState({}, "", p);
      window.dispatchEvent(new PopStateEvent("popstate", { state: {} }));
    }, route);
    this.note(`no menu link to ${route}: opened through the router`);
    return "router";
  }

  // The logged-in user's own API call (for ids the page did not show, and diagnosis only).
  async api(method, p, body) {
    return this.page.evaluate(async ({ base, method, p, body }) => {
      const token = JSON.parse(localStorage.getItem("token") || "null");
      const resp = await fetch(base + p, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
        credentials: "include",
      });
      let json = null;
      try { json = await resp.json(); } catch { /* none */ }
      return { status: resp.status, json };
    }, { base: new URL(cfg.apiOrigin).origin, method, p, body });
  }

  socketReady() {
    return this.sockets.some((s) => s.frames.some((f) => /^42(\/[^,]*,)?\["ready"/.test(f)));
  }

  socketFrames(pattern) {
    return this.sockets.flatMap((s) => s.frames).filter((f) => pattern.test(f)).length;
  }

  async close() {
    await this.browser?.close();
  }

  report() {
    const ok = this.steps.filter((s) => s.ok).length;
    const rows = this.steps.map((s) => {
      const failedChecks = s.checks.filter((c) => !c.ok).map((c) => c.label);
      const why = [
        s.error && `error: ${s.error}`,
        s.blank && "BLANK PAGE",
        s.pageErrors.length && `page error: ${s.pageErrors[0].split("\n")[0]}`,
        failedChecks.length && `failed: ${failedChecks.join("; ")}`,
      ].filter(Boolean).join(" | ");
      return { n: s.n, step: s.name, result: s.ok ? "ok" : "FAILED", why };
    });
    const width = Math.max(...rows.map((r) => r.step.length), 4);
    const lines = [
      `${"#".padStart(2)}  ${"step".padEnd(width)}  result  why`,
      ...rows.map((r) => `${String(r.n).padStart(2)}  ${r.step.padEnd(width)}  ${r.result.padEnd(6)}  ${r.why}`),
    ];
    const failedApi = { campaign: 0, shell: 0, out: 0, unlisted: 0 };
    for (const s of this.steps) {
      for (const c of s.apiCalls) if (c.status >= 400) failedApi[c.scope] = (failedApi[c.scope] || 0) + 1;
    }
    const summary = {
      steps_ok: ok,
      steps_failed: this.steps.length - ok,
      failed: this.steps.filter((s) => !s.ok).map((s) => s.name),
      blank_pages: this.steps.filter((s) => s.blank).map((s) => s.name),
      page_errors: this.steps.reduce((n, s) => n + s.pageErrors.length, 0),
      failed_api_calls: failedApi,
      socket_ready: this.socketReady(),
      walk_assists: this.assists,
      external_hosts_stubbed: [...this.external].sort(),
      origin: cfg.origin,
      api_origin: cfg.apiOrigin,
      timezone: cfg.timezone,
      out: path.resolve(cfg.out),
    };
    fs.writeFileSync(path.join(cfg.out, "report.json"),
      JSON.stringify({ summary, steps: this.steps }, null, 2));
    return { table: lines.join("\n"), summary };
  }
}
