// The campaign journey of the ZapExpress frontend, in headless Chromium, against zapx.
//
// Started by scripts/frontend-walk (deploy/frontend-walk/stack.py), which runs zapx and nginx
// and sets WALK_* (harness.mjs). Each step acts as a user would (menus, buttons, forms) and
// checks what the user would see; a step fails on a failed check, an uncaught page error or a
// blank page. The last line printed is one JSON object.

import { Walk, cfg } from "./harness.mjs";

const RUN = Date.now().toString(36).slice(-5);
const LIST = `Lista walk ${RUN}`;
const CONNECTION = `WhatsApp walk ${RUN}`;
const CAMPAIGN = `Campanha walk ${RUN}`;
const ITEMS = [
  { name: "Ana Walk", number: "5511987650001", email: "ana@walk.test" },
  { name: "Bruno Walk", number: "5511987650002", email: "" },
  { name: "Carla Walk", number: "5511987650003", email: "carla@walk.test" },
];
const VARIABLE = { key: "empresa", value: `ACME ${RUN}` };
const MESSAGE = "Olá {nome}, uma mensagem da walk";

const w = new Walk();
const state = { listId: null, campaignId: null, scheduledByForm: false };
const dialog = () => w.page.locator("[role=dialog]").last();
const row = (text) => w.page.locator("tbody tr", { hasText: text }).first();
const visible = async (locator) => (await locator.count()) > 0 && locator.first().isVisible();
const text = (t) => w.page.getByText(t, { exact: false }).first();

const splashGone = () =>
  w.page.locator("#splash-screen").waitFor({ state: "detached", timeout: 20000 }).catch(() => {});

// The login form as a user fills it; returns the login's answer.
async function logIn() {
  const page = w.page;
  await page.fill("input[name=email]", cfg.email);
  await page.fill("input[name=password]", cfg.password);
  await page.click("#walk-recaptcha-stub");
  return w.answerTo("POST", /\/auth\/login$/, () => page.click("button[type=submit]"));
}

// A blank page means the app unmounted itself: nothing can be clicked any more, and a reload
// needs a session refresh. So a step that starts on a blank page logs in afresh first, and says
// so: each page is judged on its own, not on the crash of the one before.
async function fresh() {
  // A dialog or menu left open by the step before (a failed save keeps its form open) would
  // catch every click: close it as a user would.
  for (let i = 0; i < 3 && (await visible(w.page.locator(".MuiDialog-root, .MuiPopover-root"))); i++) {
    await w.page.keyboard.press("Escape");
    await w.page.waitForTimeout(400);
  }
  if (!(await w.isBlank())) return;
  w.note("the page was blank when this step began: logged in again");
  await w.page.evaluate(() => localStorage.clear());
  await w.page.goto(cfg.origin + "/login");
  await splashGone();
  await w.waitFor(() => visible(w.page.locator("#walk-recaptcha-stub")));
  await logIn();
  await w.waitFor(() => !w.page.url().endsWith("/login"), 8000);
  await w.page.waitForTimeout(1500);
}

// When the page could not add the contacts, the walk adds them through the API (the page's own
// body), so that the campaign has an audience and the later pages have something to show.
async function ensureItems() {
  if (!state.listId) return;
  const listed = await w.api("GET", `/contact-list-items?contactListId=${state.listId}&pageNumber=1`);
  const rows = (listed.json && (listed.json.contacts || listed.json.records)) || [];
  for (const item of ITEMS) {
    if (rows.some((r) => r.number === item.number)) continue;
    w.assist("added the list's contacts: POST /contact-list-items");
    await w.api("POST", "/contact-list-items", { ...item, contactListId: String(state.listId) });
  }
}

// When the form could not create the campaign, the walk does, with zapx's own rules (no null
// messages), so that the report, cancel, restart and delete can be seen.
async function createCampaign() {
  const connections = await w.api("GET", "/whatsapp/?session=0");
  const sandbox = (Array.isArray(connections.json) ? connections.json : []).find((c) => c.name === "Sandbox");
  w.assist("created the campaign: POST /campaigns without the form's null messages");
  const made = await w.api("POST", "/campaigns", {
    name: CAMPAIGN, contactListId: state.listId, whatsappId: sandbox && sandbox.id, message1: MESSAGE,
  });
  state.campaignId = made.json && made.json.id;
  w.note(`POST /campaigns by the walk: ${made.status}`);
}

async function campaignStatus() {
  const r = await w.api("GET", `/campaigns/${state.campaignId}`);
  return r.json && r.json.status;
}

async function main() {
  await w.open();
  const page = w.page;

  await w.step("login-page", "the login page renders, with the reCAPTCHA stand-in", async () => {
    await page.goto(cfg.origin + "/login");
    await splashGone();
    w.check("e-mail field", await w.waitFor(() => visible(page.locator("input[name=email]"))));
    w.check("reCAPTCHA stand-in drawn", await w.waitFor(() => visible(page.locator("#walk-recaptcha-stub"))));
  });

  await w.step("login", "log in as the demo admin", async () => {
    const login = await logIn();
    w.check("POST /auth/login 200", login.status === 200, login.status);
    // A future company.dueDate, user.queues[], the campaignsEnabled setting (harness.mjs).
    w.check("the answer has what the frontend reads at once", w.loginGaps.length === 0,
      w.loginGaps.join("; "));
    w.check("left the login page (to /tickets)", await w.waitFor(() => !page.url().endsWith("/login"), 8000), page.url());
    const stored = await page.evaluate(() => Boolean(localStorage.getItem("token")));
    w.check("token stored", stored);
    if (!stored) w.halt("the frontend did not log in");
  });

  await w.step("landing", "the app's layout and the Campaign menu show", async () => {
    await page.waitForTimeout(2500);
    w.check("layout drawer shows", await visible(page.locator(".MuiDrawer-root")));
    const menu = await w.waitFor(() => visible(page.locator('a[href="/campaigns"]')), 6000);
    w.check("Campaign menu entry (a[href=/campaigns])", menu);
    w.check("GET /companies/listPlan/{id} 200 with plan (the menu's source)",
      w.answered(/^\/companies\/listPlan\/\d+$/, { key: "plan", steps: 2 }));
  });

  await w.step("realtime", "socket.io connects and says ready", async () => {
    const opened = await w.waitFor(() => w.sockets.length > 0, 8000);
    w.check("a websocket to /socket.io/ opened", opened);
    w.check("'ready' received", await w.waitFor(() => w.socketReady(), 8000));
    if (!cfg.realtime) w.note("this checkout has no `zapx realtime`: nginx has no socket.io upstream");
  });

  await w.step("contact-lists", "open the contact lists", async () => {
    await fresh();
    await w.go("/contact-lists");
    w.check("title 'Listas de Leads'", await w.waitFor(() => visible(text("Listas de Leads"))));
    w.check("GET /contact-lists 200 with records[]", await w.waitFor(() =>
      w.answered(/^\/contact-lists\/?$/, { key: "records" })));
  });

  await w.step("contact-list-create", "create a list from the dialog", async () => {
    await fresh();
    await page.getByRole("button", { name: "Nova Lista" }).click();
    await dialog().locator("input[name=name]").fill(LIST);
    const made = await w.answerTo("POST", /^\/contact-lists\/?$/, () => dialog().locator("button[type=submit]").click());
    w.check("POST /contact-lists 2xx", made.status >= 200 && made.status < 300, made.status);
    state.listId = made.json && made.json.id;
    w.check("the new list shows in the table (socket event, the page does not refetch)",
      await w.waitFor(() => visible(row(LIST)), 8000));
  });

  await w.step("list-items", "open the list and add three contacts from the dialog", async () => {
    await fresh();
    try {
      if (await visible(row(LIST))) {
        // The people icon: the first button of the actions cell that is not inside the sample
        // sheet's download link (<a download><button>).
        await row(LIST).locator("td").last().locator(":scope > button").first().click();
      } else {
        await w.go(`/contact-lists/${state.listId}/contacts`);
      }
      w.check("list name as the title", await w.waitFor(() => visible(page.locator("h2, h5, h6", { hasText: LIST }))));
      w.check("GET contact-list-items 200 with contacts[]", await w.waitFor(() =>
        w.answered(/^\/contact-list-items\/?$/, { key: "contacts" })));
      for (const item of ITEMS) {
        if (await w.isBlank()) break;
        await page.getByRole("button", { name: "Novo", exact: true }).click();
        await dialog().locator("input[name=name]").fill(item.name);
        await dialog().locator("input[name=number]").fill(item.number);
        if (item.email) await dialog().locator("input[name=email]").fill(item.email);
        const made = await w.answerTo("POST", /^\/contact-list-items\/?$/, () => dialog().locator("button[type=submit]").click());
        w.check(`POST /contact-list-items ${item.name} 2xx`, made.status >= 200 && made.status < 300, made.status);
        await dialog().waitFor({ state: "detached", timeout: 3000 }).catch(() => {});
      }
      w.check("the three contacts show", await w.waitFor(async () => {
        for (const item of ITEMS) if (!(await visible(row(item.number)))) return false;
        return true;
      }, 8000));
    } finally {
      await ensureItems();
    }
  });

  await w.step("list-upload", "upload the frontend's sample sheet (planilha.xlsx)", async () => {
    await fresh();
    if (!cfg.sheet) throw new Error("the build has no static/media/planilha*.xlsx");
    if (!/\/contacts$/.test(page.url())) await w.go(`/contact-lists/${state.listId}/contacts`);
    await page.setInputFiles("#upload", cfg.sheet);
    const up = await w.answerTo("POST", /\/contact-lists\/[^/]+\/upload$/, () =>
      dialog().getByRole("button", { name: "Ok" }).click());
    w.check("POST contact-lists/{id}/upload 2xx", up.status >= 200 && up.status < 300, up.status);
    w.note(`upload answer: ${JSON.stringify(up.json).slice(0, 250)}`);
    w.check("the sheet's two contacts show (Contato 6, Contato 12)", await w.waitFor(async () =>
      (await visible(row("Contato 6"))) && (await visible(row("Contato 12"))), 8000));
  });

  await w.step("connections", "open the connections", async () => {
    await fresh();
    await w.go("/connections");
    w.check("title 'Lista de Canais'", await w.waitFor(() => visible(text("Lista de Canais"))));
    w.check("GET /whatsapp 200, an array", await w.waitFor(() => w.answered(/^\/whatsapp\/?$/, { key: "array", steps: 99 })));
    w.check("the demo connection 'Sandbox' shows", await w.waitFor(() => visible(row("Sandbox"))));
  });

  await w.step("connection-add", "add a connection from the form", async () => {
    await fresh();
    await page.getByRole("button", { name: "Adicionar Canal" }).click();
    await page.getByRole("menuitem", { name: /Canal WhatsApp/ }).click();
    await dialog().locator("input[name=name]").fill(CONNECTION);
    const made = await w.answerTo("POST", /^\/whatsapp\/?$/, () => dialog().locator("button[type=submit]").click());
    w.check("POST /whatsapp 2xx", made.status >= 200 && made.status < 300, made.status);
    w.check("the new connection shows (socket event)", await w.waitFor(() => visible(row(CONNECTION)), 8000));
  });

  await w.step("campaign-settings", "open campaign settings, add a variable, save, come back", async () => {
    await fresh();
    await w.go("/campaigns-config");
    w.check("title", await w.waitFor(() => visible(text("Configurações de Campanhas"))));
    w.check("GET /campaign-settings 200, an array of {key, value}", await w.waitFor(() =>
      w.answered(/^\/campaign-settings\/?$/, { key: "array" })));
    await page.getByRole("button", { name: "Adicionar Variável" }).click();
    await page.locator("input[name=key]").fill(VARIABLE.key);
    await page.locator("input[name=value]").fill(VARIABLE.value);
    await page.getByRole("button", { name: "Adicionar", exact: true }).click();
    const saved = await w.answerTo("POST", /^\/campaign-settings\/?$/, () =>
      page.getByRole("button", { name: "Salvar Configurações" }).click());
    w.check("POST /campaign-settings 2xx", saved.status >= 200 && saved.status < 300, saved.status);
    await w.go("/files");
    await page.waitForTimeout(1000);
    await w.go("/campaigns-config");
    // What the page reads when it opens (the page keeps a pushed variable in its module-level
    // defaults, so what it shows after coming back proves nothing).
    const back = await w.api("GET", "/campaign-settings");
    const entry = Array.isArray(back.json) && back.json.find((e) => e.key === "variables");
    let vars = [];
    try { vars = entry ? JSON.parse(entry.value) : []; } catch { /* not JSON text */ }
    w.check("GET /campaign-settings gives the variable back as the page reads it ([{key, value: JSON}])",
      Array.isArray(vars) && vars.some((v) => v.key === VARIABLE.key && v.value === VARIABLE.value),
      JSON.stringify(back.json).slice(0, 150));
  });

  await w.step("files", "open the files page", async () => {
    await fresh();
    await w.go("/files");
    w.check("title 'Lista de arquivos'", await w.waitFor(() => visible(text("Lista de arquivos"))));
    w.check("GET /files 200 with files[]", await w.waitFor(() => w.answered(/^\/files\/?$/, { key: "files" })));
  });

  await w.step("campaigns", "open the campaigns", async () => {
    await fresh();
    await w.go("/campaigns");
    w.check("title 'Campanhas'", await w.waitFor(() => visible(page.getByRole("button", { name: "Nova Campanha" }))));
    w.check("GET /campaigns 200 with records[]", await w.waitFor(() =>
      w.answered(/^\/campaigns\/?$/, { key: "records" })));
  });

  await w.step("campaign-create", "create a campaign with the form (empty messages 2-5)", async () => {
    await fresh();
    try {
      if (!(await visible(page.getByRole("button", { name: "Nova Campanha" })))) await w.go("/campaigns");
      await page.getByRole("button", { name: "Nova Campanha" }).click();
      const form = dialog();
      await form.locator("input[name=name]").fill(CAMPAIGN);
      // MUI's Select is a div with role=button named by its label (its id is MUI's to choose).
      await form.locator('[role=button][aria-labelledby^="contactList-selection-label"]').click();
      await page.locator("li[role=option]", { hasText: LIST }).click();
      await form.locator('[role=button][aria-labelledby^="whatsapp-selection-label"]').click();
      await page.locator("li[role=option]", { hasText: "Sandbox" }).first().click();
      await form.locator("textarea[name=message1]").fill(MESSAGE);
      const made = await w.answerTo("POST", /^\/campaigns\/?$/, () => form.locator("button[type=submit]").click());
      w.check("the form sent message2 as null", made.sent && made.sent.message2 === null,
        made.sent && JSON.stringify(made.sent.message2));
      w.check("POST /campaigns 2xx", made.status >= 200 && made.status < 300,
        `${made.status} ${(made.json && made.json.message) || ""}`);
      state.campaignId = made.json && made.json.id;
      w.check("the campaign shows in the list (socket event)", await w.waitFor(() => visible(row(CAMPAIGN)), 8000));
    } finally {
      if (!state.campaignId) await createCampaign();
    }
  });

  await w.step("campaign-start", "schedule it for now from the edit form: it starts", async () => {
    await fresh();
    try {
      if (!(await visible(row(CAMPAIGN)))) {
        await w.go("/files"); // the list page fetches again when it mounts
        await w.go("/campaigns");
        w.note("the new campaign was not in the list: left the page and came back");
      }
      await row(CAMPAIGN).waitFor({ timeout: 5000 });
      const buttons = row(CAMPAIGN).locator("button");
      await buttons.nth((await buttons.count()) - 2).click(); // edit (report, edit, delete last)
      const form = dialog();
      await w.waitFor(async () => (await form.locator("input[name=name]").inputValue()) === CAMPAIGN);
      const now = await page.evaluate(() => {
        const d = new Date();
        const p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      });
      await form.locator("input[name=scheduledAt]").fill(now);
      const put = await w.answerTo("PUT", /^\/campaigns\/[^/]+$/, () => form.locator("button[type=submit]").click());
      state.scheduledByForm = put.status >= 200 && put.status < 300;
      w.check("PUT /campaigns/{id} 2xx", state.scheduledByForm,
        `${put.status} ${(put.json && put.json.message) || ""}`);
      w.note(`scheduledAt sent: ${put.sent && put.sent.scheduledAt} (browser time zone ${cfg.timezone}); ` +
        `stored: ${put.json && put.json.scheduledAt}`);
    } finally {
      const running = () => campaignStatus().then((st) => ["EM_ANDAMENTO", "FINALIZADA"].includes(st));
      // The form's time has minutes only, so zapx's clock may take up to a minute to start it.
      const started = await w.waitFor(running, state.scheduledByForm ? 70000 : 2000, 2000);
      w.check("zapx started it when the form scheduled it", started, `status ${await campaignStatus()}`);
      if (!started) {
        w.assist("started the campaign: PUT /campaigns/{id} {scheduledAt: now, with its offset}");
        await w.api("PUT", `/campaigns/${state.campaignId}`, { scheduledAt: new Date().toISOString() });
        await w.waitFor(running, 70000, 2000);
      }
      w.note(`status in zapx: ${await campaignStatus()}`);
      w.check("the list shows 'Em Andamento' (socket event)", await w.waitFor(() =>
        visible(row(CAMPAIGN).getByText(/Em Andamento|Finalizada/)), 5000));
    }
  });

  await w.step("campaign-report", "open the report: progress arrives through socket.io", async () => {
    await fresh();
    if (await visible(row(CAMPAIGN))) {
      const buttons = row(CAMPAIGN).locator("button");
      await buttons.nth((await buttons.count()) - 3).click(); // the report icon
    } else {
      await w.go(`/campaign/${state.campaignId}/report`);
    }
    w.check("on /campaign/{id}/report", await w.waitFor(() => /\/campaign\/\d+\/report/.test(page.url())));
    w.check("the name and the counters show", await w.waitFor(async () =>
      (await visible(text(CAMPAIGN))) && (await visible(text("Entregues")))));
    const framesBefore = w.socketFrames(/-campaign"/);
    const shown = () => page.evaluate(() => {
      const label = [...document.querySelectorAll("*")].find((e) => e.childElementCount === 0 && e.textContent.trim() === "Entregues");
      const card = label && label.closest(".MuiPaper-root, .MuiCard-root, .MuiGrid-item");
      const n = card && /(\d+)/.exec(card.innerText.replace("Entregues", ""));
      const blank = !document.getElementById("root") || !document.getElementById("root").innerText.trim();
      return blank || !card ? null : n ? Number(n[1]) : 0;
    });
    // What the page shows when it opens came from GET /campaigns/{id}; only a later, higher
    // count (or the campaign's end) can have come through the socket. The next message is due
    // within the company's interval (20 s by default).
    const opened = (await w.waitFor(async () => {
      const n = await shown();
      return n === null ? null : { n };
    }, 10000, 500) || { n: null }).n;
    const running = (await campaignStatus()) === "EM_ANDAMENTO";
    const rose = opened !== null &&
      await w.waitFor(async () => (await shown()) > opened, running ? 60000 : 3000, 1000);
    const delivered = await shown();
    w.note(`'Entregues' ${opened} when the page opened, ${delivered} later; status then ${running ? "EM_ANDAMENTO" : "not running"}`);
    w.check("'Entregues' counts up without a reload", rose || (!running && delivered > 0),
      `${opened} -> ${delivered}`);
    w.check("campaign events arrived on the socket", await w.waitFor(() =>
      w.socketFrames(/-campaign"/) > framesBefore, running ? 5000 : 1000));
    w.note(`status in zapx: ${await campaignStatus()}`);
  });

  await w.step("campaign-cancel", "cancel it from the list", async () => {
    await fresh();
    try {
      if (!/\/campaigns$/.test(page.url())) await w.go("/campaigns");
      await row(CAMPAIGN).waitFor({ timeout: 8000 });
      const stop = row(CAMPAIGN).locator('button[title="Parar Campanha"]');
      w.check("a cancel button (shown only while 'Em Andamento')", await w.waitFor(() => visible(stop), 5000));
      const done = await w.answerTo("POST", /\/campaigns\/[^/]+\/cancel$/, () => stop.click());
      w.check("POST /campaigns/{id}/cancel 2xx", done.status >= 200 && done.status < 300, done.status);
      w.check("the list shows 'Cancelada'", await w.waitFor(() => visible(row(CAMPAIGN).getByText("Cancelada")), 8000));
    } finally {
      if ((await campaignStatus()) === "EM_ANDAMENTO") {
        w.assist("cancelled the campaign: POST /campaigns/{id}/cancel");
        await w.api("POST", `/campaigns/${state.campaignId}/cancel`);
      }
      w.note(`status in zapx: ${await campaignStatus()}`);
    }
  });

  await w.step("campaign-restart", "restart it from the list", async () => {
    await fresh();
    try {
      if (!/\/campaigns$/.test(page.url())) await w.go("/campaigns");
      await row(CAMPAIGN).waitFor({ timeout: 8000 });
      const again = row(CAMPAIGN).locator('button[title="Parar Campanha"]');
      w.check("a restart button (shown only when 'Cancelada')", await w.waitFor(() => visible(again), 5000));
      const done = await w.answerTo("POST", /\/campaigns\/[^/]+\/restart$/, () => again.click());
      w.check("POST /campaigns/{id}/restart 2xx", done.status >= 200 && done.status < 300, done.status);
      w.check("the list shows it running or finished", await w.waitFor(() =>
        visible(row(CAMPAIGN).getByText(/Em Andamento|Finalizada/)), 15000));
    } finally {
      if ((await campaignStatus()) === "CANCELADA") {
        w.assist("restarted the campaign: POST /campaigns/{id}/restart");
        await w.api("POST", `/campaigns/${state.campaignId}/restart`);
      }
      w.note(`status in zapx: ${await campaignStatus()}`);
    }
  });

  await w.step("campaign-delete", "when it has finished, delete it from the list", async () => {
    await fresh();
    const finished = await w.waitFor(async () => (await campaignStatus()) === "FINALIZADA", 120000, 2000);
    w.note(`status in zapx before the delete: ${await campaignStatus()}`);
    w.check("zapx finished the campaign within 120 s", finished);
    await w.go("/files"); // the list page fetches again when it mounts
    await w.go("/campaigns");
    await row(CAMPAIGN).waitFor({ timeout: 8000 });
    const buttons = row(CAMPAIGN).locator("button");
    await buttons.nth((await buttons.count()) - 1).click();
    const done = await w.answerTo("DELETE", /\/campaigns\/[^/]+$/, () => dialog().getByRole("button", { name: "Ok" }).click());
    w.check("DELETE /campaigns/{id} 2xx", done.status >= 200 && done.status < 300, done.status);
    w.check("the row goes away (socket event)", await w.waitFor(async () => !(await visible(row(CAMPAIGN))), 8000));
  });

  await w.step("reload", "reload /campaigns: the session survives", async () => {
    await fresh();
    await w.go("/campaigns");
    const refresh = await w.answerTo("POST", /\/auth\/refresh_token$/, () => page.reload());
    w.check("POST /auth/refresh_token 200", refresh.status === 200, refresh.status);
    await splashGone();
    w.check("still on /campaigns", !page.url().endsWith("/login"), page.url());
    w.check("the campaigns page shows", await w.waitFor(() => visible(page.getByRole("button", { name: "Nova Campanha" }))));
  });
}

let crashed = null;
try {
  await main();
} catch (err) {
  crashed = String(err.message || err).split("\n")[0];
  process.stderr.write(`walk: stopped: ${crashed}\n`);
} finally {
  await w.close();
}
const { table, summary } = w.report();
if (crashed) summary.crashed = crashed;
console.log(table);
console.log(JSON.stringify(summary));
process.exit(summary.steps_failed === 0 && !crashed ? 0 : 1);
