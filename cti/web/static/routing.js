// Admin page for the county routing: rules editor with inline validation, simulator,
// preview (the diffs of both files apply writes: the dialplan include and the county
// queues), apply, history with rollback. Everything from the server is inserted with
// textContent, never as HTML; the server's field errors (path -> message) are shown next to
// the input whose data-path matches the path (or its nearest parent).
"use strict";

(() => {
  const root = document.getElementById("routing");
  const csrf = root.dataset.csrf;
  const form = document.getElementById("rules");
  const $ = (sel, el = document) => el.querySelector(sel);
  const byTest = (id) => $(`[data-testid=${id}]`);

  let catalog = { counties: [], queues: [], weekdays: [], can_apply: false };
  let rules = null; // the model being edited (export format)
  let dirty = false;
  let validateTimer = null;
  let validateSeq = 0;
  let historyBefore = null;

  // --- HTTP --------------------------------------------------------------------------------

  async function call(method, url, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the server could not be reached" } };
    }
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  }

  // --- small DOM helpers -------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") node.textContent = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "className") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child) node.appendChild(child);
    return node;
  }

  const errorSlot = (path) => el("span", { className: "field-error", dataset: { errorFor: path } });

  function textInput(path, value, onValue, attrs = {}) {
    const input = el("input", { ...attrs, dataset: { path } });
    input.value = value == null ? "" : String(value);
    input.addEventListener("input", () => onValue(input.value));
    return input;
  }

  function select(path, value, options, onValue, emptyLabel) {
    const node = el("select", { dataset: { path } });
    if (emptyLabel !== undefined) node.appendChild(el("option", { value: "", text: emptyLabel }));
    const values = new Set();
    for (const [v, label] of options) {
      node.appendChild(el("option", { value: v, text: label }));
      values.add(v);
    }
    if (value != null && value !== "" && !values.has(value)) {
      // A value the catalogue no longer has (a removed county): keep it visible, so the
      // server can name it instead of the page silently dropping it.
      node.appendChild(el("option", { value, text: `${value} (unknown)` }));
    }
    node.value = value == null ? "" : value;
    node.addEventListener("change", () => onValue(node.value));
    return node;
  }

  const countyOptions = () => catalog.counties.map((c) => [c.code, `${c.name} (${c.code})`]);
  const queueOptions = () => catalog.queues.map((q) => [q, q]);
  const orNull = (v) => (v === "" ? null : v);

  function changed() {
    dirty = true;
    byTest("rules-status").textContent = "Unsaved changes";
    byTest("rules-status").className = "status-line";
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 250);
  }

  function removeButton(label, onClick) {
    const b = el("button", { type: "button", className: "danger", text: label });
    b.addEventListener("click", onClick);
    return b;
  }

  // --- the editor --------------------------------------------------------------------------

  function renderRules() {
    byTest("rules-loading").hidden = true;
    const def = $("select[data-path=default_county]");
    def.replaceWith(
      select("default_county", rules.default_county, countyOptions(), (v) => {
        rules.default_county = orNull(v);
        changed();
      }, "— none —"),
    );
    $("select[data-path=default_county]").dataset.testid = "default-county";

    const dids = $("#dids");
    dids.replaceChildren();
    rules.dids.forEach((rule, i) => {
      const p = `dids.${i}`;
      dids.appendChild(el("tr", { dataset: { testid: "did-rule" } },
        el("td", {}, textInput(`${p}.did`, rule.did, (v) => { rule.did = v; changed(); },
          { inputmode: "tel", "aria-label": "DID" }), errorSlot(`${p}.did`)),
        el("td", {}, select(`${p}.county`, rule.county, countyOptions(), (v) => {
          rule.county = orNull(v); changed();
        }, "— by prefix, else default —"), errorSlot(`${p}.county`)),
        el("td", {}, removeButton("Remove", () => { rules.dids.splice(i, 1); renderRules(); changed(); })),
      ));
    });

    const prefixes = $("#prefixes");
    prefixes.replaceChildren();
    rules.prefixes.forEach((rule, i) => {
      const p = `prefixes.${i}`;
      prefixes.appendChild(el("tr", { dataset: { testid: "prefix-rule" } },
        el("td", {}, textInput(`${p}.prefix`, rule.prefix, (v) => { rule.prefix = v; changed(); },
          { inputmode: "tel", "aria-label": "Caller prefix" }), errorSlot(`${p}.prefix`)),
        el("td", {}, select(`${p}.county`, rule.county, countyOptions(), (v) => {
          rule.county = orNull(v); changed();
        }, "— choose —"), errorSlot(`${p}.county`)),
        el("td", {}, textInput(`${p}.did`, rule.did, (v) => { rule.did = orNull(v); changed(); },
          { inputmode: "tel", placeholder: "all DIDs", "aria-label": "Only for DID" }),
          errorSlot(`${p}.did`)),
        el("td", {}, removeButton("Remove", () => { rules.prefixes.splice(i, 1); renderRules(); changed(); })),
      ));
    });

    const counties = $("#counties");
    counties.replaceChildren();
    rules.counties.forEach((policy, i) => counties.appendChild(renderPolicy(policy, i)));
  }

  function renderPolicy(policy, i) {
    const p = `counties.${i}`;
    const box = el("fieldset", { className: "policy", dataset: { testid: "county-policy" } });
    box.appendChild(el("div", { className: "row" },
      el("label", { text: "County " }, select(`${p}.county`, policy.county, countyOptions(), (v) => {
        policy.county = v; changed();
      }, "— choose —"), errorSlot(`${p}.county`)),
      el("label", { text: "Time zone " }, textInput(`${p}.timezone`, policy.timezone, (v) => {
        policy.timezone = orNull(v); changed();
      }, { placeholder: "Asia/Shanghai" }), errorSlot(`${p}.timezone`)),
      el("label", { text: "Holidays " }, textInput(`${p}.holidays`, (policy.holidays || []).join(" "), (v) => {
        policy.holidays = v.split(/[\s,]+/).filter((d) => d !== "");
        changed();
      }, { placeholder: "2027-01-01 2027-02-06" }), errorSlot(`${p}.holidays`)),
      removeButton("Remove county settings", () => { rules.counties.splice(i, 1); renderRules(); changed(); }),
    ));

    const hours = el("div", { className: "hours" }, el("strong", { text: "Opening hours" }));
    (policy.hours || []).forEach((w, j) => {
      const wp = `${p}.hours.${j}`;
      const days = el("span", { className: "days", dataset: { path: `${wp}.days` } });
      for (const day of catalog.weekdays) {
        const box = el("input", { type: "checkbox", "aria-label": day });
        box.checked = w.days.includes(day);
        box.addEventListener("change", () => {
          w.days = catalog.weekdays.filter((d) => (d === day ? box.checked : w.days.includes(d)));
          changed();
        });
        days.appendChild(el("label", {}, box, el("span", { text: day })));
      }
      hours.appendChild(el("div", { className: "window" },
        el("span", {}, days, errorSlot(`${wp}.days`)),
        el("label", { text: "from " }, textInput(`${wp}.start`, w.start, (v) => { w.start = v; changed(); },
          { placeholder: "08:00", size: "5" }), errorSlot(`${wp}.start`)),
        el("label", { text: "to " }, textInput(`${wp}.end`, w.end, (v) => { w.end = v; changed(); },
          { placeholder: "18:00", size: "5" }), errorSlot(`${wp}.end`)),
        removeButton("Remove", () => { policy.hours.splice(j, 1); renderRules(); changed(); }),
      ));
    });
    const addWindow = el("button", { type: "button", className: "secondary", text: "Add opening hours" });
    addWindow.addEventListener("click", () => {
      policy.hours = policy.hours || [];
      policy.hours.push({ days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "18:00" });
      renderRules();
      changed();
    });
    hours.append(errorSlot(`${p}.hours`), addWindow);
    box.appendChild(hours);

    const after = policy.after_hours || { action: "", mailbox: null, queue: null };
    const setAfter = () => {
      policy.after_hours = after.action ? { action: after.action, mailbox: after.mailbox, queue: after.queue } : null;
      changed();
    };
    box.appendChild(el("div", { className: "row" },
      el("label", { text: "After hours " }, select(`${p}.after_hours.action`, after.action,
        [["voicemail", "voicemail"], ["callback", "callback request"], ["queue", "another queue"]],
        (v) => { after.action = v; setAfter(); }, "— none —"), errorSlot(`${p}.after_hours.action`),
        errorSlot(`${p}.after_hours`)),
      el("label", { text: "Mailbox " }, textInput(`${p}.after_hours.mailbox`, after.mailbox, (v) => {
        after.mailbox = orNull(v); setAfter();
      }, { inputmode: "numeric", size: "8" }), errorSlot(`${p}.after_hours.mailbox`)),
      el("label", { text: "Queue " }, select(`${p}.after_hours.queue`, after.queue, queueOptions(), (v) => {
        after.queue = orNull(v); setAfter();
      }, "—"), errorSlot(`${p}.after_hours.queue`)),
    ));

    const whenEmpty = el("input", { type: "checkbox", dataset: { path: `${p}.overflow_when_empty` } });
    whenEmpty.checked = !!policy.overflow_when_empty;
    whenEmpty.addEventListener("change", () => { policy.overflow_when_empty = whenEmpty.checked; changed(); });
    box.appendChild(el("div", { className: "row" },
      el("label", { text: "Overflow to " }, select(`${p}.overflow_queue`, policy.overflow_queue, queueOptions(), (v) => {
        policy.overflow_queue = orNull(v); changed();
      }, "— no overflow —"), errorSlot(`${p}.overflow_queue`)),
      el("label", { className: "check" }, whenEmpty, el("span", { text: "when no agent is logged in" }),
        errorSlot(`${p}.overflow_when_empty`)),
      el("label", { text: "or after waiting (s) " }, textInput(`${p}.overflow_after_s`, policy.overflow_after_s, (v) => {
        const n = Number(v);
        policy.overflow_after_s = v.trim() === "" ? null : Number.isInteger(n) ? n : v;
        changed();
      }, { inputmode: "numeric", size: "6" }), errorSlot(`${p}.overflow_after_s`)),
    ));
    return box;
  }

  // --- field errors ------------------------------------------------------------------------

  function clearErrors(scope) {
    for (const slot of scope.querySelectorAll(".field-error")) slot.textContent = "";
    for (const input of scope.querySelectorAll(".invalid")) input.classList.remove("invalid");
    if (scope === form) byTest("other-errors").replaceChildren();
  }

  /** Show {path: message} next to the matching fields of ``scope``; returns the messages
   * that have no field there (shown under the form, or by the caller). */
  function showErrors(scope, fields) {
    clearErrors(scope);
    const slots = new Map();
    for (const slot of scope.querySelectorAll(".field-error")) slots.set(slot.dataset.errorFor, slot);
    const inputs = new Map();
    for (const input of scope.querySelectorAll("[data-path]")) inputs.set(input.dataset.path, input);
    const leftovers = [];
    for (const [path, message] of Object.entries(fields || {})) {
      // "counties.0.hours.0.days.2" is shown at "counties.0.hours.0.days", and so on.
      let at = path;
      while (at && !slots.has(at)) at = at.includes(".") ? at.slice(0, at.lastIndexOf(".")) : "";
      if (!at) {
        leftovers.push(`${path}: ${message}`);
        continue;
      }
      const slot = slots.get(at);
      slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
      const input = inputs.get(at);
      if (input) input.classList.add("invalid");
    }
    if (scope === form) {
      const list = byTest("other-errors");
      for (const text of leftovers) list.appendChild(el("li", { text }));
    }
    return leftovers;
  }

  async function validate() {
    const seq = ++validateSeq;
    const r = await call("POST", "/api/routing/validate", rules);
    if (seq !== validateSeq) return; // a newer edit is being checked
    const status = byTest("rules-status");
    if (r.ok) {
      clearErrors(form);
      status.textContent = `Valid (unsaved): ${r.data.dids} DID rule(s), ${r.data.prefixes} prefix rule(s), ${r.data.counties} county setting(s)`;
      status.className = "status-line ok";
    } else {
      showErrors(form, r.data.fields);
      const n = Object.keys(r.data.fields || {}).length;
      status.textContent = n ? `${n} problem(s): see the fields marked in red` : r.data.detail || `error ${r.status}`;
      status.className = "status-line bad";
    }
  }

  async function save(event) {
    event.preventDefault();
    clearTimeout(validateTimer);
    validateSeq++;
    const status = byTest("rules-status");
    const r = await call("PUT", "/api/routing/rules", rules);
    if (!r.ok) {
      showErrors(form, r.data.fields);
      const n = Object.keys(r.data.fields || {}).length;
      status.textContent = n ? `Not saved: ${n} problem(s) marked in red` : `Not saved: ${r.data.detail || r.status}`;
      status.className = "status-line bad";
      return;
    }
    rules = r.data;
    dirty = false;
    renderRules();
    clearErrors(form);
    status.textContent = "Saved. Not live yet: preview and apply below.";
    status.className = "status-line ok";
  }

  async function loadRules() {
    const r = await call("GET", "/api/routing/rules");
    if (!r.ok) {
      byTest("rules-loading").textContent = r.data.detail || `error ${r.status}`;
      return;
    }
    rules = r.data;
    dirty = false;
    renderRules();
  }

  // --- simulator ---------------------------------------------------------------------------

  async function simulate(event) {
    event.preventDefault();
    const sim = event.currentTarget;
    const values = new FormData(sim);
    const body = { caller: values.get("caller").trim(), did: values.get("did").trim() };
    const at = values.get("at");
    if (at) {
      const when = new Date(at);
      body.at = Number.isNaN(when.getTime()) ? at : when.toISOString();
    }
    const empty = values.get("empty_queues").trim();
    if (empty) body.empty_queues = empty.split(/[\s,]+/);
    const result = byTest("sim-result");
    const error = byTest("sim-error");
    error.textContent = "";
    const r = await call("POST", "/api/routing/simulate", body);
    if (!r.ok) {
      result.hidden = true;
      const leftovers = showErrors(sim, r.data.fields);
      if (!r.data.fields) error.textContent = r.data.detail || `error ${r.status}`;
      else if (leftovers.length) {
        // Errors about the rules, not the question: the saved rules no longer check out.
        error.textContent = `The saved rules are not valid: ${leftovers.join("; ")}`;
      }
      return;
    }
    clearErrors(sim);
    const d = r.data;
    for (const key of ["action", "county", "queue", "matched_rule"]) {
      $(`[data-field=${key}]`, result).textContent = d[key] == null ? "—" : String(d[key]);
    }
    if (d.mailbox) $("[data-field=action]", result).textContent = `${d.action} (mailbox ${d.mailbox})`;
    const steps = $("[data-field=steps]", result);
    steps.replaceChildren(...d.steps.map((s) => el("li", { text: s })));
    if (d.overflow_after_s != null) {
      steps.appendChild(el("li", { text: `overflow after ${d.overflow_after_s} s to ${d.overflow_queue}` }));
    }
    result.hidden = false;
  }

  // --- preview and apply -------------------------------------------------------------------

  function showDiff(pre, diff) {
    pre.replaceChildren();
    for (const line of diff.split("\n")) {
      let cls = "";
      if (line.startsWith("+++") || line.startsWith("---")) cls = "file";
      else if (line.startsWith("+")) cls = "add";
      else if (line.startsWith("-")) cls = "del";
      else if (line.startsWith("@@")) cls = "hunk";
      pre.appendChild(el("span", { className: cls, text: line }));
    }
    pre.hidden = false;
  }

  function needsSave(where) {
    if (!dirty) return false;
    where.textContent = "You have unsaved changes: save the rules first (preview and apply use the saved rules).";
    where.className = "status-line bad";
    return true;
  }

  const fieldList = (fields) => Object.entries(fields || {}).map(([p, m]) => `${p}: ${m}`);

  // One file of the preview: its diff, or "no change" next to its name.
  function showFile(pre, note, file) {
    if (file.changed) {
      note.textContent = file.live_sha256 ? "changes:" : "new file:";
      note.className = "file-note";
      showDiff(pre, file.diff);
    } else {
      note.textContent = "no change";
      note.className = "file-note unchanged";
      pre.replaceChildren();
      pre.hidden = true;
    }
  }

  async function preview() {
    const status = byTest("preview-status");
    const files = byTest("preview-files");
    if (needsSave(status)) return;
    const r = await call("GET", "/api/routing/preview");
    if (!r.ok) {
      files.hidden = true;
      const fields = r.data.fields || {};
      if (fields.queues) {
        // Not the rules: queues.conf cannot take the county queues, so apply would refuse.
        status.textContent = `Apply would be refused: ${fields.queues}`;
      } else if (r.data.fields) {
        status.textContent = `The saved rules are not valid: ${fieldList(fields).join("; ")}`;
      } else {
        status.textContent = r.data.detail || `error ${r.status}`;
      }
      status.className = "status-line bad";
      return;
    }
    const d = r.data;
    status.textContent = d.changed || d.queues.changed
      ? "What applying would change:"
      : "No change: Asterisk already has what the saved rules and the counties render to.";
    status.className = "status-line";
    byTest("queues-reload").textContent = d.reloads_queues
      ? "The county queues change: applying also reloads app_queue."
      : "The county queues do not change: applying does not reload app_queue.";
    showFile(byTest("diff"), byTest("diff-note"), d);
    showFile(byTest("queues-diff"), byTest("queues-diff-note"), d.queues);
    files.hidden = false;
  }

  function showOutcome(r) {
    const box = byTest("apply-result");
    const message = byTest("apply-message");
    const steps = byTest("apply-steps");
    const lint = byTest("apply-lint");
    box.hidden = false;
    steps.replaceChildren();
    lint.hidden = true;
    if (!r.ok) {
      message.textContent = [r.data.detail || `error ${r.status}`, ...fieldList(r.data.fields)].join(" — ");
      message.className = "verdict bad";
      return;
    }
    const d = r.data;
    message.textContent = d.message;
    message.className = d.ok ? "verdict ok" : "verdict bad";
    for (const s of d.outcome.steps) steps.appendChild(el("li", { text: s }));
    if (d.outcome.lint_output) {
      lint.textContent = d.outcome.lint_output;
      lint.hidden = false;
    }
  }

  async function apply() {
    const status = byTest("preview-status");
    if (needsSave(status)) return;
    const button = $("#apply");
    button.disabled = true;
    status.textContent = "Applying…";
    status.className = "status-line";
    try {
      const r = await call("POST", "/api/routing/apply");
      status.textContent = "";
      byTest("preview-files").hidden = true;
      showOutcome(r);
      await loadHistory(false);
    } finally {
      button.disabled = false;
    }
  }

  // --- history -----------------------------------------------------------------------------

  async function showVersion(id) {
    const r = await call("GET", `/api/routing/versions/${encodeURIComponent(id)}`);
    const box = byTest("version-detail");
    if (!r.ok) return;
    const v = r.data;
    byTest("version-title").textContent =
      `Version ${v.id}: ${v.result}${v.error ? ` (${v.error})` : ""}`;
    // The stored diff covers both files apply writes: extensions_routing.conf, then
    // queues_counties.conf when the county queues changed.
    showDiff(byTest("version-diff"), v.diff || "(no change against the files it replaced)");
    box.hidden = false;
  }

  async function rollback(v) {
    if (!window.confirm(`Apply version ${v.id} again? Its rules replace the saved rules if the apply succeeds.`)) return;
    const r = await call("POST", `/api/routing/versions/${encodeURIComponent(v.id)}/rollback`);
    showOutcome(r);
    await loadHistory(false);
    if (r.ok && r.data.ok) {
      await loadRules();
      byTest("rules-status").textContent = `Rules restored from version ${v.id}.`;
      byTest("rules-status").className = "status-line ok";
    }
  }

  function historyRow(v) {
    const note = v.error || (v.rollback_of ? `rollback to version ${v.rollback_of}` : "");
    const show = el("button", { type: "button", className: "secondary", text: "Diff" });
    show.addEventListener("click", () => showVersion(v.id));
    const actions = el("td", {}, show);
    if (v.result === "applied") {
      const back = el("button", { type: "button", className: "danger", text: "Roll back", dataset: { testid: "rollback" } });
      back.disabled = !catalog.can_apply;
      back.addEventListener("click", () => rollback(v));
      actions.appendChild(back);
    }
    const tr = el("tr", { className: `result-${v.result}`, dataset: { testid: "version", versionId: String(v.id) } },
      el("td", { text: String(v.id), dataset: { field: "id" } }),
      el("td", { text: v.created_at ? new Date(v.created_at).toLocaleString() : "—" }),
      el("td", { text: v.author }),
      el("td", { text: v.result, dataset: { field: "result" } }),
      el("td", { text: note }),
      actions,
    );
    return tr;
  }

  async function loadHistory(more) {
    const params = new URLSearchParams({ limit: "20" });
    if (more && historyBefore) params.set("before_id", String(historyBefore));
    const r = await call("GET", `/api/routing/versions?${params}`);
    if (!r.ok) return;
    const tbody = byTest("history");
    if (!more) tbody.replaceChildren();
    for (const v of r.data.items) tbody.appendChild(historyRow(v));
    historyBefore = r.data.next_before_id;
    $("#more-history").hidden = !historyBefore;
  }

  // --- start -------------------------------------------------------------------------------

  async function start() {
    const r = await call("GET", "/api/routing/catalog");
    if (!r.ok) {
      byTest("rules-loading").textContent = r.data.detail || `error ${r.status}`;
      return;
    }
    catalog = r.data;
    if (!catalog.can_apply) {
      $("#apply").disabled = true;
      byTest("apply-note").textContent =
        "Applying is off: set CTI_ROUTING_AMI_URL (the [cti_routing] AMI user) to apply to Asterisk.";
    }
    form.addEventListener("submit", save);
    $("#add-did").addEventListener("click", () => { rules.dids.push({ did: "", county: null }); renderRules(); changed(); });
    $("#add-prefix").addEventListener("click", () => {
      rules.prefixes.push({ prefix: "", county: null, did: null }); renderRules(); changed();
    });
    $("#add-county").addEventListener("click", () => {
      rules.counties.push({
        county: "", timezone: null, hours: [], holidays: [], after_hours: null,
        overflow_queue: null, overflow_when_empty: false, overflow_after_s: null,
      });
      renderRules();
      changed();
    });
    document.getElementById("simulate").addEventListener("submit", simulate);
    $("#preview").addEventListener("click", preview);
    $("#apply").addEventListener("click", apply);
    $("#more-history").addEventListener("click", () => loadHistory(true));
    await Promise.all([loadRules(), loadHistory(false)]);
    root.dataset.ready = "true";
  }

  start();
})();
