// Supervisor wallboard: the board's deltas arrive over /ws/wallboard (no polling); the
// longest wait ticks here from the join time the server sent, corrected for the clocks'
// difference. The board is marked stale while the socket is down, an AMI link is down,
// or the AMI side's heartbeat (every 5 s) has not come for 15 s.
(() => {
  "use strict";
  const root = document.getElementById("wallboard");
  if (!root) return;
  const STALE_AFTER_MS = 15000;
  const linkEl = document.getElementById("link-state");
  const overdueEl = document.getElementById("overdue");
  let offsetS = 0; // server clock minus ours
  let lastLink = null;
  let lastLinkAt = 0;
  let socketUp = false;
  let retryMs = 1000;
  const oldest = new Map(); // county -> epoch of the longest waiting caller's join
  const agents = new Map(); // county -> Map(id -> delta)
  const alerts = new Map(); // county -> Map(kind -> raised alert)

  const board = (county) => root.querySelector(`.board[data-county="${CSS.escape(county)}"]`);
  const field = (el, name) => el && el.querySelector(`[data-field="${name}"]`);
  const set = (el, value) => { if (el) el.textContent = value; };
  const secs = (s) => {
    if (s === null || s === undefined) return "–";
    s = Math.max(0, Math.round(s));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };

  function setStale() {
    let text = "live";
    let stale = false;
    if (!socketUp) { text = "disconnected: reconnecting…"; stale = true; }
    else if (!lastLink || Date.now() - lastLinkAt > STALE_AFTER_MS) { text = "stale: no update from the AMI side"; stale = true; }
    else {
      const down = Object.entries(lastLink.nodes || {}).filter(([, s]) => s !== "connected");
      if (down.length) { text = `stale: AMI link down (${down.map(([n, s]) => `${n} ${s}`).join(", ")})`; stale = true; }
    }
    set(linkEl, text);
    linkEl.classList.toggle("stale", stale);
    root.classList.toggle("is-stale", stale);
  }

  function renderAgents(county) {
    const el = board(county);
    if (!el) return;
    const list = el.querySelector(".agents");
    const items = [...(agents.get(county) || new Map()).values()].sort((a, b) => a.name.localeCompare(b.name));
    const counts = {};
    list.replaceChildren(...items.map((a) => {
      counts[a.state] = (counts[a.state] || 0) + 1;
      const li = document.createElement("li");
      li.dataset.testid = "agent";
      li.dataset.agent = a.interface;
      const name = document.createElement("span");
      name.textContent = a.name;
      const state = document.createElement("span");
      state.className = `state-${a.state}`;
      state.dataset.testid = "agent-state";
      state.textContent = a.state.replace("_", " ") + (a.reason ? ` (${a.reason})` : "");
      li.append(name, state);
      return li;
    }));
    set(field(el, "counts"), Object.entries(counts).map(([s, n]) => `${n} ${s.replace("_", " ")}`).join(" · "));
  }

  function renderAlerts(county) {
    const el = board(county);
    if (!el) return;
    const raised = [...(alerts.get(county) || new Map()).values()];
    el.querySelector(".alerts").replaceChildren(...raised.map((a) => {
      const li = document.createElement("li");
      li.dataset.testid = "alert";
      li.dataset.kind = a.kind;
      const since = new Date(a.raised_at * 1000).toLocaleTimeString();
      li.textContent = `${a.text} · since ${since}`;
      return li;
    }));
    el.classList.toggle("has-alert", raised.length > 0);
  }

  function tick() {
    const now = Date.now() / 1000 + offsetS;
    for (const el of root.querySelectorAll(".board")) {
      const since = oldest.get(el.dataset.county);
      set(field(el, "longest"), since ? secs(now - since) : "–");
    }
    setStale();
  }

  function onMessage(m) {
    switch (m.type) {
      case "hello":
        offsetS = m.server_time - Date.now() / 1000;
        agents.clear();
        for (const county of alerts.keys()) { alerts.delete(county); renderAlerts(county); }
        for (const c of m.counties || []) set(field(board(c.code), "open_callbacks"), c.open_callbacks);
        break;
      case "link":
        lastLink = m;
        lastLinkAt = Date.now();
        break;
      case "queue": {
        const el = board(m.county);
        set(field(el, "waiting"), m.waiting);
        if (m.oldest_since) oldest.set(m.county, m.oldest_since); else oldest.delete(m.county);
        break;
      }
      case "agent": {
        if (!agents.has(m.county)) agents.set(m.county, new Map());
        if (m.state === "gone") agents.get(m.county).delete(m.id); else agents.get(m.county).set(m.id, m);
        renderAgents(m.county);
        break;
      }
      case "stats": {
        const el = board(m.county);
        set(field(el, "answered"), m.answered);
        set(field(el, "abandoned"), m.abandoned);
        set(field(el, "sl_s"), `(${m.sl_s} s)`);
        set(field(el, "service_level"), m.service_level === null ? "–" : `${m.service_level}%`);
        set(field(el, "avg_wait_s"), secs(m.avg_wait_s));
        set(field(el, "avg_handle_s"), secs(m.avg_handle_s));
        break;
      }
      case "callbacks":
        set(field(board(m.county), "open_callbacks"), m.open);
        break;
      case "alert": {
        if (!alerts.has(m.county)) alerts.set(m.county, new Map());
        if (m.state === "raised") alerts.get(m.county).set(m.kind, m); else alerts.get(m.county).delete(m.kind);
        renderAlerts(m.county);
        break;
      }
      case "dispatch_overdue": {
        const li = document.createElement("li");
        li.dataset.testid = "overdue-item";
        li.textContent = `Ticket ${m.ticket || "?"} · ${m.company || "?"} · late ${m.late} (due ${m.due_by})`;
        overdueEl.prepend(li);
        break;
      }
    }
    tick();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/wallboard`);
    ws.onopen = () => { socketUp = true; retryMs = 1000; setStale(); };
    ws.onmessage = (ev) => {
      try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error(err); }
    };
    ws.onclose = (ev) => {
      socketUp = false;
      setStale();
      if (ev.code === 4401) { location.href = "/login?next=/supervisor"; return; }
      if (ev.code === 4403) { set(linkEl, `refused: ${ev.reason || "not allowed"}`); return; }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  setInterval(tick, 1000);
  connect();
})();
