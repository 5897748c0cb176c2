// Agent console: the county's open callback requests, and the result of calling back.
// Everything shown comes from callers or agents: inserted with textContent only.
"use strict";

(() => {
  const root = document.getElementById("callbacks");
  if (!root) return;
  const csrf = document.getElementById("console").dataset.csrf;
  const list = root.querySelector(".callback-list");
  const status = root.querySelector(".result");
  const template = document.getElementById("callback-template");
  const REFRESH_MS = 30000;
  const RESULT = { reached: "reached", no_answer: "no answer", wrong_number: "wrong number" };

  const text = (el, value) => { el.textContent = value == null || value === "" ? "—" : String(value); };
  const when = (iso) => new Date(iso).toLocaleString();

  function render(items) {
    list.replaceChildren();
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No open requests.";
      list.appendChild(li);
      return;
    }
    for (const item of items) {
      const li = template.content.firstElementChild.cloneNode(true);
      li.dataset.id = item.id;
      const field = (name) => li.querySelector(`[data-field=${name}]`);
      text(field("number"), item.number);
      text(field("caller_name"), item.caller_name);
      text(field("county"), item.county || "no county");
      text(field("requested_at"), when(item.requested_at));
      text(field("attempts"), item.attempts === 0 ? "not tried yet"
        : `${item.attempts} attempt(s), last ${when(item.last_attempt_at)}`);
      const note = field("note");
      if (item.note) text(note, item.note); else note.hidden = true;
      const form = li.querySelector("form");
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        attempt(item, ev.submitter ? ev.submitter.value : "reached", form.note.value, form);
      });
      list.appendChild(li);
    }
  }

  async function load() {
    try {
      const r = await fetch("/api/callbacks", { credentials: "same-origin" });
      if (r.status === 401) { location.href = "/login?next=/agent"; return; }
      if (!r.ok) throw new Error(`error ${r.status}`);
      render(await r.json());
    } catch (err) {
      text(status, `Could not load the requests: ${err.message}`);
    }
  }

  async function attempt(item, result, note, form) {
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    let message;
    try {
      const r = await fetch(`/api/callbacks/${item.id}/attempts`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ result, note: note || null }),
      });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
      message = `${item.number}: ${RESULT[result]} — request ${data.status}.`;
    } catch (err) {
      message = `${item.number}: not saved: ${err.message}`;
    }
    await load(); // the list as it is now (another agent may have handled it too)
    text(status, message);
  }

  root.querySelector(".refresh").addEventListener("click", load);
  load();
  setInterval(load, REFRESH_MS);
})();
