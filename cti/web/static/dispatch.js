// The ticket page's dispatch panel: the suggested companies with why, a Dispatch button
// for each (when the ticket may be dispatched), the open dispatch and, for supervisors,
// a form to withdraw it. Everything shown comes from the API and is set as text.
"use strict";

(() => {
  const panel = document.getElementById("dispatch-panel");
  if (!panel) return;
  const number = panel.dataset.number;
  const csrf = panel.dataset.csrf;
  const result = panel.querySelector(".dispatch-result");
  const table = panel.querySelector(".dispatch-suggestions");
  const none = panel.querySelector(".dispatch-none");
  const active = panel.querySelector(".dispatch-active");
  const withdrawForm = panel.querySelector(".withdraw-form");
  let activeId = null;

  async function call(method, url, body) {
    const r = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
    return data;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "—";
  }

  function show(data) {
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren();
    activeId = data.active ? data.active.id : null;
    active.hidden = !data.active;
    if (data.active) {
      active.querySelector(".company").textContent = data.active.company;
      active.querySelector(".dstatus").textContent = data.active.status.replace("_", " ");
      active.querySelector(".accept-by").textContent = when(data.active.accept_by);
      active.querySelector(".finish-by").textContent = when(data.active.finish_by);
      active.querySelector(".dwhy").textContent =
        (data.active.automatic ? "Offered automatically. " : "") + (data.active.why || "");
      withdrawForm.hidden = !data.may_withdraw;
    }
    if (!data.may_dispatch) {
      table.hidden = true;
      none.hidden = !!data.active;
      none.textContent = `A ticket that is ${data.status.replace("_", " ")} is not dispatched now.`;
      return;
    }
    if (data.suggestions.length === 0) {
      table.hidden = true;
      none.hidden = false;
      none.textContent = "No approved company with certified staff serves this county and category.";
      return;
    }
    none.hidden = true;
    table.hidden = false;
    for (const s of data.suggestions) {
      const row = document.createElement("tr");
      row.dataset.companyId = String(s.company_id);
      cell(row, String(s.rank));
      cell(row, s.company);
      cell(row, s.reputation.toFixed(1)).title = s.reputation_why;
      cell(row, String(s.open_load));
      cell(row, s.why).className = "why";
      const td = cell(row, "");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Dispatch";
      button.setAttribute("aria-label", `Dispatch to ${s.company}`);
      button.addEventListener("click", () => dispatchTo(s.company_id, button));
      td.appendChild(button);
      tbody.appendChild(row);
    }
  }

  async function load() {
    try {
      show(await call("GET", `/api/tickets/${encodeURIComponent(number)}/suggestions`));
    } catch (err) {
      result.textContent = `Could not load the suggestions: ${err.message}`;
    }
  }

  async function dispatchTo(companyId, button) {
    table.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      await call("POST", `/api/tickets/${encodeURIComponent(number)}/dispatch`, { company_id: companyId });
      location.reload();  // the timeline and the status show the dispatch
    } catch (err) {
      result.textContent = `Not dispatched: ${err.message}`;
      table.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      button.focus();
    }
  }

  withdrawForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (activeId === null) return;
    const button = withdrawForm.querySelector("button");
    button.disabled = true;
    try {
      await call("POST", `/api/dispatches/${activeId}/withdraw`, { reason: withdrawForm.reason.value });
      location.reload();
    } catch (err) {
      result.textContent = `Not withdrawn: ${err.message}`;
      button.disabled = false;
    }
  });

  load();
})();
