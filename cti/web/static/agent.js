// Agent console: receives screen-pops over the WebSocket and renders them.
// Everything that comes from a caller is inserted with textContent, never as HTML.
"use strict";

(() => {
  const root = document.getElementById("console");
  const csrf = root.dataset.csrf;
  const popsEl = document.getElementById("pops");
  const idleEl = document.getElementById("idle");
  const template = document.getElementById("pop-template");
  const pops = new Map(); // pop_id ("node:linkedid:interface") -> card element
  let socket = null;
  let categories = null;
  let retryMs = 1000;

  const text = (el, value) => { el.textContent = value == null || value === "" ? "—" : String(value); };
  const keyOf = (m) => m.pop_id;
  const STATUS = { ringing: "ringing", answered: "in call", ended: "ended" };
  const setLink = (s) => text(document.getElementById("link-state"), s);

  async function loadCategories() {
    if (categories) return categories;
    const r = await fetch("/api/service-categories", { credentials: "same-origin" });
    categories = r.ok ? await r.json() : [];
    return categories;
  }

  function fillCategories(select) {
    loadCategories().then((groups) => {
      for (const group of groups) {
        const og = document.createElement("optgroup");
        og.label = group.name;
        for (const item of group.items) {
          const opt = document.createElement("option");
          opt.value = item.code;
          opt.dataset.category = group.code; // the item is the sub-category of this one
          opt.textContent = item.name;
          og.appendChild(opt);
        }
        select.appendChild(og);
      }
    });
  }

  // A datetime-local value ("2026-12-08T09:30") is the agent's local time: send it with
  // the browser's UTC offset, as the API asks.
  function withOffset(value) {
    if (!value) return null;
    const local = new Date(value);
    if (Number.isNaN(local.getTime())) return null;
    const minutes = -local.getTimezoneOffset();
    const sign = minutes >= 0 ? "+" : "-";
    const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
    return `${value.length === 16 ? `${value}:00` : value}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
  }

  async function postJson(url, body) {
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
    return data;
  }

  function renderCitizen(section, pop, card) {
    section.replaceChildren();
    const citizen = (pop.citizens || [])[0];
    const h = document.createElement("h3");
    if (citizen) {
      text(h, citizen.name);
      section.appendChild(h);
      card.dataset.citizenId = citizen.id;
      for (const flag of citizen.flags || []) {
        const b = document.createElement("span");
        b.className = "flag";
        text(b, flag);
        section.appendChild(b);
      }
      for (const value of [citizen.address, citizen.notes]) {
        if (!value) continue;
        const p = document.createElement("p");
        text(p, value);
        section.appendChild(p);
      }
      if ((pop.citizens || []).length > 1) {
        const p = document.createElement("p");
        p.className = "muted";
        text(p, `${pop.citizens.length - 1} more profile(s) share this number`);
        section.appendChild(p);
      }
      return;
    }
    text(h, pop.lookup_failed ? "Caller lookup failed — history unavailable" : "Unknown caller — create");
    section.appendChild(h);
    if (pop.caller && pop.caller.withheld) return; // nothing to file a profile under
    const form = document.createElement("form");
    form.className = "citizen-form";
    const name = document.createElement("input");
    name.name = "name";
    name.placeholder = "Citizen's name";
    name.required = true;
    name.maxLength = 120;
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Create profile";
    form.append(name, button);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const created = await postJson("/api/citizens", {
          name: name.value,
          phones: [pop.caller.number],
          county: pop.county || null,
        });
        pop.citizens = [{ id: created.id, name: created.name, flags: [] }];
        renderCitizen(section, pop, card);
      } catch (err) {
        button.textContent = `Retry (${err.message})`;
      }
    });
    section.appendChild(form);
  }

  function renderList(ul, items, line) {
    ul.replaceChildren();
    if (!items || items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "none";
      ul.appendChild(li);
      return;
    }
    for (const item of items) {
      const li = document.createElement("li");
      text(li, line(item));
      ul.appendChild(li);
    }
  }

  function showPop(message) {
    const key = keyOf(message);
    const pop = message.pop || {};
    let card = pops.get(key);
    if (!card) {
      card = template.content.firstElementChild.cloneNode(true);
      pops.set(key, card);
      popsEl.prepend(card);
      fillCategories(card.querySelector("select[name=category]"));
      const form = card.querySelector(".ticket-form");
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const result = form.querySelector(".result");
        const chosen = form.category.selectedOptions[0];
        try {
          const t = await postJson("/api/tickets", {
            category: (chosen && chosen.dataset.category) || form.category.value,
            subcategory: chosen && chosen.dataset.category ? form.category.value : null,
            description: form.description.value,
            citizen_id: card.dataset.citizenId ? Number(card.dataset.citizenId) : null,
            county: pop.county || null,
            call: { node: pop.node, linkedid: pop.linkedid },
            channel: "phone",
            priority: form.priority.value,
            address: form.address.value || null,
            preferred_start: withOffset(form.preferred_start.value),
            preferred_end: withOffset(form.preferred_end.value),
          });
          result.replaceChildren();
          const link = document.createElement("a");
          link.href = `/tickets/${encodeURIComponent(t.number)}`;
          link.textContent = t.number;
          result.append("Ticket ", link, " created.");
          form.description.value = "";
          form.preferred_start.value = "";
          form.preferred_end.value = "";
        } catch (err) {
          text(result, `Not saved: ${err.message}`);
        }
      });
    }
    const caller = pop.caller || {};
    const citizen = (pop.citizens || [])[0];
    const field = (name) => card.querySelector(`[data-field=${name}]`);
    text(field("caller_label"), (citizen && citizen.name) || caller.number || "Withheld number");
    text(field("caller_number"), caller.number || "withheld");
    text(field("caller_name"), caller.name);
    text(field("county"), pop.county);
    text(field("did"), pop.did);
    text(field("queue"), pop.queue);
    setStatus(card, key, pop.state);
    renderCitizen(card.querySelector(".citizen"), pop, card);
    const address = card.querySelector(".ticket-form input[name=address]");
    if (citizen && citizen.address && !address.value) address.value = citizen.address;
    renderList(card.querySelector(".tickets"), pop.open_tickets,
      (t) => `${t.number} · ${t.status} · ${t.description || ""}`);
    renderList(card.querySelector(".calls"), pop.last_calls,
      // A revisit call (outbound) went through no queue: say what it was instead.
      (c) => `${c.started_at || ""} · ${c.disposition || ""} · ${
        c.direction === "outbound" ? "revisit call" : c.queue || ""}`);
    if (pop.truncated) card.querySelector(".calls").insertAdjacentText("afterend", "(older history not shown)");
    idleEl.hidden = true;
    // Other panels of the pop (knowledge-pop.js) fill themselves from the same data.
    card.dispatchEvent(new CustomEvent("pop:shown", { bubbles: true, detail: pop }));
  }

  // The status line; an ended pop gets a Close button (the pop stays, across reloads,
  // until the agent closes it or a ticket is saved from it).
  function setStatus(card, key, state) {
    text(card.querySelector("[data-field=status]"), STATUS[state] || "ringing");
    card.dataset.state = state || "ringing";
    let close = card.querySelector("button.close-pop");
    if (state !== "ended") { if (close) close.remove(); return; }
    if (close) return;
    close = document.createElement("button");
    close.type = "button";
    close.className = "close-pop";
    close.dataset.testid = "close-pop";
    close.textContent = "Close";
    close.addEventListener("click", () => {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "close", pop_id: key }));
      }
      remove(key);
    });
    card.querySelector("[data-field=status]").after(close);
  }

  function remove(key) {
    const card = pops.get(key);
    if (!card) return;
    card.remove();
    pops.delete(key);
    idleEl.hidden = pops.size > 0;
  }

  function mark(message, state, drop) {
    const card = pops.get(keyOf(message));
    if (!card) return;
    if (drop) { remove(keyOf(message)); return; }
    setStatus(card, keyOf(message), state);
  }

  function onMessage(message) {
    switch (message.type) {
      case "hello":
        if (message.agent_state) text(document.getElementById("agent-state"), message.agent_state);
        // After a reconnect: the pops listed follow; a card not listed ended meanwhile.
        if (Array.isArray(message.pop_ids)) {
          const current = new Set(message.pop_ids);
          for (const key of [...pops.keys()]) if (!current.has(key)) remove(key);
        }
        break;
      case "pop":
        showPop(message);
        break;
      case "withdraw":
      case "closed":
        mark(message, null, true);
        break;
      case "answered":
        mark(message, "answered", false);
        break;
      case "ended":
        mark(message, "ended", false);
        break;
      case "agent_state":
        text(document.getElementById("agent-state"), message.state);
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/agent`);
    socket = ws;
    ws.onopen = () => { setLink("connected"); retryMs = 1000; };
    ws.onmessage = (ev) => {
      try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error(err); }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401) { location.href = "/login?next=/agent"; return; }
      if (ev.code === 4403) { setLink(`refused: ${ev.reason || "not allowed"}`); return; }
      setLink("reconnecting…");
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  connect();
})();
