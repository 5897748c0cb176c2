// Revisits page: click-to-call (the ticket's citizen, or a claimed callback request), the
// state of the agent's call (polled every 2 s while one is in progress), and the revisit
// form. Everything shown that came from people is inserted with textContent only.
"use strict";

(() => {
  const root = document.getElementById("revisits");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const message = root.querySelector("[data-testid=message]");
  const state = root.querySelector("[data-testid=call-state]");
  const POLL_MS = 2000;
  const SAID = {
    dialing: "Ringing your phone… pick it up to be connected.",
    connected: "Connected: your phone answered, the citizen is being dialled.",
    failed: "The call failed",
    ended: "The call ended.",
  };
  let timer = null;

  const say = (el, text) => { if (el) el.textContent = text; };

  async function post(url, body, method = "POST") {
    const r = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 401) { location.href = "/login?next=/revisits"; }
    if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
    return data;
  }

  function show(call) {
    if (!state) return;
    if (!call) { say(state, "No call in progress."); state.dataset.status = ""; return; }
    const what = call.ticket ? `ticket ${call.ticket}` : `callback request ${call.callback_id}`;
    let text = `${SAID[call.status] || call.status} (${what}, ${call.number})`;
    if (call.status === "failed" && call.failure) text = `${SAID.failed}: ${call.failure} (${what})`;
    say(state, text);
    state.dataset.status = call.status;
    const busy = call.status === "dialing" || call.status === "connected";
    if (busy && timer === null) timer = setInterval(poll, POLL_MS);
    if (!busy && timer !== null) { clearInterval(timer); timer = null; }
  }

  async function poll() {
    try {
      const r = await fetch("/api/outbound-calls/current", { credentials: "same-origin" });
      if (!r.ok) throw new Error(`error ${r.status}`);
      show((await r.json()).call);
    } catch (err) {
      say(state, `Could not read the call state: ${err.message}`);
    }
  }

  async function call(url, button) {
    button.disabled = true;
    try {
      show(await post(url));
      say(message, "");
    } catch (err) {
      say(message, `Not called: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  for (const button of root.querySelectorAll("button.call")) {
    button.addEventListener("click", () =>
      call(`/api/tickets/${encodeURIComponent(button.dataset.ticket)}/revisit-call`, button));
  }
  for (const button of root.querySelectorAll("button.callback-call")) {
    button.addEventListener("click", () =>
      call(`/api/callbacks/${encodeURIComponent(button.dataset.callback)}/call`, button));
  }
  for (const button of root.querySelectorAll("button.claim")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const data = await post(`/api/callbacks/${encodeURIComponent(button.dataset.callback)}/claim`);
        const row = button.closest("tr");
        say(row.querySelector("[data-field=claimed_by]"), data.claimed_by);
        say(message, `Claimed: request ${data.id} is yours for ${data.claimed_minutes} minutes.`);
      } catch (err) {
        say(message, `Not claimed: ${err.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }
  for (const button of root.querySelectorAll("button.release")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const id = encodeURIComponent(button.dataset.callback);
        const data = await post(`/api/callbacks/${id}/claim`, {}, "DELETE");
        say(button.closest("tr").querySelector("[data-field=claimed_by]"), "—");
        say(message, `Released: request ${data.id} may be called by anyone.`);
      } catch (err) {
        say(message, `Not released: ${err.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }
  for (const form of root.querySelectorAll("form.revisit-form")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const ticket = form.dataset.ticket;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const data = await post(`/api/tickets/${encodeURIComponent(ticket)}/revisit`, {
          satisfaction: Number(form.satisfaction.value),
          service_done: form.service_done.value === "yes",
          complaint: form.complaint.checked,
          comment: form.comment.value,
        });
        form.closest("li").remove();
        say(message, `Ticket ${data.ticket} revisited: now ${data.ticket_status}.`);
      } catch (err) {
        say(message, `Not saved: ${err.message}`);
        button.disabled = false;
      }
    });
  }
  if (root.dataset.canCall === "yes") poll();
})();
