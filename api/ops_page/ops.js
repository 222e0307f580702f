// The ops page (/ops): logs in with POST /auth/login, keeps the token in sessionStorage, polls
// GET /ops/state every POLL_MS and draws it; pause and resume call POST /campaigns/{id}/pause
// and /resume. Plain DOM (textContent only, never HTML from the server), no build step.
"use strict";

(function () {
  var POLL_MS = 3000;
  var TOKEN = "zapx.ops.token";
  var timer = null;
  var polls = 0;
  var lastSummary = "";
  var busy = {};

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function token() { return sessionStorage.getItem(TOKEN); }

  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    var t = token();
    if (t) headers.Authorization = "Bearer " + t;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: resp.status, data: data };
      });
    });
  }

  // An expired access token: a new one from the session cookie (POST /auth/refresh_token).
  function refreshed() {
    return api("POST", "/auth/refresh_token").then(function (r) {
      if (r.status === 200 && r.data && r.data.token) {
        sessionStorage.setItem(TOKEN, r.data.token);
        return true;
      }
      return false;
    });
  }

  function authorized(method, path) {
    return api(method, path).then(function (r) {
      var expired = r.status === 401 ||
        (r.status === 403 && r.data && r.data.error === "ERR_SESSION_EXPIRED");
      if (!expired) return r;
      return refreshed().then(function (ok) {
        return ok ? api(method, path) : r;
      });
    });
  }

  function message(r, fallback) {
    return (r.data && r.data.message) || fallback + " (HTTP " + r.status + ")";
  }

  function showLogin(text) {
    clearTimeout(timer);
    sessionStorage.removeItem(TOKEN);
    $("board").hidden = true;
    $("logout").hidden = true;
    $("who").textContent = "";
    $("login").hidden = false;
    $("login-error").textContent = text || "";
    $("email").focus();
  }

  function showBoard() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
  }

  function when(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    var mins = Math.round((d - Date.now()) / 60000);
    var clock = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (mins <= 0) return clock + " (under a minute)";
    return clock + " (in " + (mins < 120 ? mins + " min" : Math.round(mins / 60) + " h") + ")";
  }

  function ago(iso) {
    if (!iso) return "—";
    var s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
    return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function fixed(n) { return String(Number(n.toFixed(2))); }

  function badge(value) {
    return el("span", { className: "badge s-" + value, text: String(value) });
  }

  // A table whose rows are cards on a phone (CSS); each cell says its column in data-label.
  function table(caption, columns, rows, key) {
    var head = el("tr", {}, columns.map(function (c) {
      return el("th", { scope: "col", className: c.cls || "", text: c.label });
    }));
    var body = rows.map(function (row) {
      var tr = el("tr", { "data-key": key(row) });
      columns.forEach(function (c) {
        var value = c.cell(row);
        var td = el("td", { className: c.cls || "", "data-label": c.label });
        // One box per cell: on a phone the cell is a grid of its label and this box.
        var box = el("span", { className: "v" });
        if (c.field) box.setAttribute("data-field", c.field);
        (Array.isArray(value) ? value : [value]).forEach(function (v) {
          box.appendChild(typeof v === "string" || typeof v === "number"
            ? document.createTextNode(String(v)) : v);
        });
        td.appendChild(box);
        tr.appendChild(td);
      });
      return tr;
    });
    return el("table", {}, [
      el("caption", { text: caption }), el("thead", {}, [head]), el("tbody", {}, body)
    ]);
  }

  // Redraws a section, keeping the keyboard focus on the same control across the redraw.
  function replace(id, node) {
    var active = document.activeElement;
    var focusKey = active && active.getAttribute && active.getAttribute("data-focus");
    var box = $(id);
    box.replaceChildren(node);
    if (focusKey) {
      var again = box.querySelector('[data-focus="' + focusKey + '"]');
      if (again) again.focus();
    }
  }

  function empty(text) { return el("p", { className: "empty", text: text }); }

  function command(campaign, name) {
    var k = campaign.id + ":" + name;
    if (busy[k]) return;
    busy[k] = true;
    authorized("POST", "/campaigns/" + campaign.id + "/" + name).then(function (r) {
      var notice = $("notice");
      if (r.status === 204) {
        notice.className = "notice";
        notice.textContent = (name === "pause" ? "Paused " : "Resumed ") + campaign.name + ".";
      } else {
        notice.className = "notice bad";
        notice.textContent = campaign.name + ": " + message(r, "refused");
      }
      delete busy[k];
      poll();
    });
  }

  function actionButton(c) {
    if (!c.canControl) return el("span", { className: "small", text: "its company's admins" });
    var name = c.status === "PAUSADA" ? "resume" : "pause";
    var label = name === "pause" ? "Pause" : "Resume";
    var b = el("button", {
      type: "button", className: name === "pause" ? "" : "secondary",
      "data-focus": "campaign-" + c.id + "-action", "data-action": name,
      "aria-label": label + " campaign " + c.name, text: label
    });
    b.addEventListener("click", function () { command(c, name); });
    return b;
  }

  function drawCampaigns(s) {
    if (!s.campaigns.length) return replace("campaigns", empty("No campaign is running or paused."));
    var cols = [
      { label: "Campaign", cell: function (c) {
        return s.allCompanies ? [c.name, el("br"), el("span", { className: "small", text: c.companyName })] : c.name;
      } },
      { label: "Status", field: "status", cell: function (c) { return badge(c.status); } },
      { label: "Sent", field: "sent", cell: function (c) {
        return [
          el("span", { "data-field": "sent-count", text: String(c.sent) }), " of " + c.total,
          el("progress", { max: String(c.total || 1), value: String(c.sent),
            "aria-label": c.name + ": " + c.sent + " of " + c.total + " sent" })
        ];
      } },
      { label: "Rate", cls: "num", field: "rate", cell: function (c) { return c.ratePerMin + " msgs/min"; } },
      { label: "Estimated end", field: "eta", cell: function (c) { return when(c.estimatedEndAt); } },
      { label: "Why", field: "reason", cell: function (c) {
        return c.pauseReason || (c.waitingBecause ? "waiting: " + c.waitingBecause : "—");
      } },
      { label: "Action", cls: "action", cell: actionButton }
    ];
    replace("campaigns", table("Sent counts, send rate over the last minute, pause reasons", cols,
      s.campaigns, function (c) { return "campaign-" + c.id; }));
  }

  function drawConnections(s) {
    if (!s.connections.length) return replace("connections", empty("No connection."));
    var cols = [
      { label: "Connection", cell: function (w) {
        return s.allCompanies ? [w.name, el("br"), el("span", { className: "small", text: w.companyName })] : w.name;
      } },
      { label: "State", cell: function (w) { return badge(w.status); } },
      { label: "Rate / limit", cls: "num", cell: function (w) {
        return fixed(w.ratePerS) + " / " + fixed(w.limitPerS) + " msgs/s (" + w.limitBy + ")";
      } },
      { label: "Recipients 24 h", cls: "num", cell: function (w) {
        // The gate counts a connection's recipients only when it has a daily cap.
        return w.dailyCap ? w.dailySent + " / " + w.dailyCap : "no daily cap";
      } },
      { label: "Breaker", cell: function (w) {
        var out = [badge(w.breaker)];
        if (w.breaker !== "closed" && w.breakerError) out.push(" " + w.breakerError);
        return out;
      } },
      { label: "Waiting for", cell: function (w) { return w.waitingBecause || "—"; } }
    ];
    replace("connections", table("Send rate now against its limit, rolling 24 h recipients",
      cols, s.connections, function (w) { return "whatsapp-" + w.id; }));
  }

  function drawQueues(s) {
    $("workers").textContent = s.workersAlive + " worker process" +
      (s.workersAlive === 1 ? "" : "es") + " alive (Dramatiq consumers, the engine's included, heard from in the last 10 s).";
    var cols = [
      { label: "Queue", cell: function (q) { return q.name; } },
      { label: "Waiting", cls: "num", cell: function (q) { return q.depth; } },
      { label: "Oldest", cls: "num", cell: function (q) { return q.depth ? q.oldestAgeS + " s" : "—"; } },
      { label: "Delayed", cls: "num", cell: function (q) { return q.delayed; } },
      { label: "Dead", cls: "num", cell: function (q) { return q.dead; } }
    ];
    replace("queues", table("Messages waiting per queue and the age of the oldest", cols,
      s.queues, function (q) { return "queue-" + q.name; }));
  }

  function drawErrors(s) {
    var minutes = Math.round(s.errorWindowS / 60);
    if (!s.errors.length) {
      return replace("errors", empty("No provider error in the last " + minutes + " min."));
    }
    var cols = [
      { label: "Code", cell: function (e) { return e.code; } },
      { label: "Rows", cls: "num", cell: function (e) { return e.count; } },
      { label: "Last", cell: function (e) { return ago(e.lastAt); } },
      { label: "Latest text", cell: function (e) { return e.example; } }
    ];
    replace("errors", table("Errors by code, last " + minutes + " min", cols, s.errors,
      function (e) { return "error-" + e.code; }));
  }

  function drawAlerts(s) {
    if (!s.alerts.length) return replace("alerts", empty("No open alert."));
    var cols = [
      { label: "Severity", cell: function (a) { return badge(a.severity); } },
      { label: "Rule", cell: function (a) { return a.rule; } },
      { label: "Subject", cell: function (a) { return a.subject; } },
      { label: "Message", cell: function (a) { return a.message; } },
      { label: "Since", cell: function (a) { return ago(a.openedAt); } }
    ];
    replace("alerts", table("Alerts open now", cols, s.alerts,
      function (a) { return "alert-" + a.id; }));
  }

  function draw(s) {
    showBoard();
    drawCampaigns(s);
    drawConnections(s);
    drawAlerts(s);
    drawErrors(s);
    drawQueues(s);
    var running = s.campaigns.filter(function (c) { return c.status === "EM_ANDAMENTO"; }).length;
    var summary = running + " running, " + (s.campaigns.length - running) + " paused; " +
      s.alerts.length + " open alert" + (s.alerts.length === 1 ? "" : "s") + "; " +
      s.workersAlive + " worker processes alive.";
    // Announced only when it changes, not at every poll.
    if (summary !== lastSummary) { $("summary").textContent = summary; lastSummary = summary; }
    $("updated").textContent = new Date(s.generatedAt).toLocaleTimeString();
  }

  function poll() {
    clearTimeout(timer);
    if (!token()) return showLogin();
    // Only the latest poll draws and schedules the next: one started by a button while
    // another was on its way would otherwise start a second chain of polls.
    var mine = ++polls;
    authorized("GET", "/ops/state").then(function (r) {
      if (!token() || mine !== polls) return;
      if (r.status === 200) {
        draw(r.data);
      } else if (r.status === 401 || r.status === 403) {
        return showLogin(message(r, "not allowed"));
      } else {
        $("notice").className = "notice bad";
        $("notice").textContent = message(r, "the state could not be read");
      }
      timer = setTimeout(poll, POLL_MS);
    }, function () {
      if (mine !== polls) return;
      $("notice").className = "notice bad";
      $("notice").textContent = "The API does not answer; trying again.";
      timer = setTimeout(poll, POLL_MS);
    });
  }

  function me() {
    return authorized("GET", "/auth/me").then(function (r) {
      if (r.status === 200 && r.data) {
        var u = r.data;
        var company = u.company && u.company.name ? " · " + u.company.name : "";
        $("who").textContent = (u.name || u.email) + company + (u.super ? " (every company)" : "");
      }
    });
  }

  function login(event) {
    event.preventDefault();
    var email = $("email").value.trim();
    var password = $("password").value;
    if (!email || !password) {
      $("login-error").textContent = "Enter your e-mail and password.";
      return;
    }
    $("login-submit").disabled = true;
    api("POST", "/auth/login", { email: email, password: password }).then(function (r) {
      $("login-submit").disabled = false;
      if (r.status !== 200 || !r.data || !r.data.token) {
        $("login-error").textContent = message(r, "login refused");
        $("password").focus();
        return;
      }
      sessionStorage.setItem(TOKEN, r.data.token);
      $("password").value = "";
      $("login-error").textContent = "";
      me();
      poll();
      $("main").focus();
    }, function () {
      $("login-submit").disabled = false;
      $("login-error").textContent = "The API does not answer.";
    });
  }

  function logout() {
    api("DELETE", "/auth/logout").then(function () { showLogin("Logged out."); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    if (token()) { me(); poll(); } else { showLogin(); }
  });
})();
