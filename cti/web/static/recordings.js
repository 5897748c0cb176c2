// Inspector page: search recordings, replay them with a waveform, pin comments, score them
// against a scorecard, file and close complaints; admins read the access log.
// Everything from the server is inserted with textContent, never as HTML.
"use strict";

(() => {
  const root = document.getElementById("recordings");
  const csrf = root.dataset.csrf;
  const form = document.getElementById("search");
  const tbody = document.querySelector("[data-testid=results]");
  const countEl = document.querySelector("[data-testid=result-count]");
  const errorEl = document.querySelector("[data-testid=search-error]");
  const more = document.getElementById("more");
  const player = document.getElementById("player");
  const audio = document.getElementById("audio");
  const canvas = document.getElementById("wave");
  const playBtn = document.getElementById("play");
  const posEl = document.querySelector("[data-testid=position]");
  const durEl = document.querySelector("[data-testid=duration]");
  let nextCursor = null;
  let current = null; // {id, duration_ms, peaks}

  const fmt = (ms) => {
    const s = Math.floor(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  const cell = (tr, value) => {
    const td = document.createElement("td");
    td.textContent = value == null || value === "" ? "—" : String(value);
    tr.appendChild(td);
  };

  function query(cursor) {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (v === "") continue;
      if (k === "since" || k === "until") params.set(k, new Date(v).toISOString());
      else params.set(k, v);
    }
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  async function search(append) {
    errorEl.textContent = "";
    const r = await fetch(`/api/recordings?${query(append ? nextCursor : null)}`, { credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { errorEl.textContent = data.detail || `error ${r.status}`; return; }
    if (!append) tbody.replaceChildren();
    for (const item of data.items) {
      const tr = document.createElement("tr");
      tr.dataset.id = item.id;
      tr.dataset.testid = "result";
      tr.setAttribute("data-testid", "result");
      cell(tr, new Date(item.started_at).toLocaleString());
      cell(tr, item.caller_number);
      cell(tr, item.county);
      cell(tr, item.agent);
      cell(tr, item.disposition || (item.orphan ? "no call" : ""));
      cell(tr, fmt(item.duration_ms));
      cell(tr, item.qa_score);
      cell(tr, item.tickets.join(", "));
      tr.addEventListener("click", () => open(item, tr));
      tbody.appendChild(tr);
    }
    countEl.textContent = `${data.count}${data.count_capped ? "+" : ""} recording(s)`;
    nextCursor = data.next_cursor;
    more.hidden = !nextCursor;
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    if (!current || !current.peaks) return;
    const peaks = current.peaks;
    const played = current.duration_ms ? (audio.currentTime * 1000) / current.duration_ms : 0;
    const bar = width / Math.max(1, peaks.length);
    peaks.forEach((p, i) => {
      ctx.fillStyle = i / peaks.length < played ? "#2457c5" : "#9aa7bd";
      const h = Math.max(1, p * height);
      ctx.fillRect(i * bar, (height - h) / 2, Math.max(1, bar - 0.5), h);
    });
  }

  const byTestId = (id) => document.querySelector(`[data-testid=${id}]`);
  const errorText = async (r) => {
    const data = await r.json().catch(() => ({}));
    const fields = data.fields ? Object.entries(data.fields).map(([k, v]) => `${k}: ${v}`) : [];
    return [typeof data.detail === "string" ? data.detail : `error ${r.status}`, ...fields].join(" · ");
  };
  const post = (url, body) => fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const when = (iso) => new Date(iso).toLocaleString();
  const scorecards = new Map(); // id -> {id, name, criteria}

  function renderDetail(detail) {
    renderComments(detail);
    renderScores(detail.scores);
    renderComplaints(detail);
  }

  async function loadComments() {
    const r = await fetch(`/api/recordings/${current.id}`, { credentials: "same-origin" });
    if (!r.ok) return;
    renderDetail(await r.json());
  }

  function renderComments(detail) {
    const list = document.querySelector("[data-testid=comments]");
    list.replaceChildren();
    for (const c of detail.comments) {
      const li = document.createElement("li");
      const jump = document.createElement("button");
      jump.type = "button";
      jump.textContent = fmt(c.at_ms);
      jump.addEventListener("click", () => { audio.currentTime = c.at_ms / 1000; });
      const t = document.createElement("span");
      t.textContent = ` ${c.author}: ${c.text}`;
      li.append(jump, t);
      list.appendChild(li);
    }
  }

  function renderScores(scores) {
    const body = byTestId("scores");
    body.replaceChildren();
    for (const sc of scores) {
      const tr = document.createElement("tr");
      tr.setAttribute("data-testid", "score");
      cell(tr, when(sc.created_at));
      cell(tr, sc.inspector);
      cell(tr, scorecards.has(sc.scorecard_id) ? scorecards.get(sc.scorecard_id).name : `#${sc.scorecard_id}`);
      cell(tr, sc.total.toFixed(2));
      cell(tr, sc.comment);
      body.appendChild(tr);
    }
  }

  function renderComplaints(detail) {
    const hold = byTestId("legal-hold");
    hold.dataset.hold = String(detail.legal_hold);
    hold.classList.toggle("on", detail.legal_hold);
    hold.textContent = detail.legal_hold
      ? "On legal hold: retention will not remove this recording."
      : "Not on legal hold.";
    const list = byTestId("complaints");
    list.replaceChildren();
    for (const c of detail.complaints) {
      const li = document.createElement("li");
      li.setAttribute("data-testid", "complaint");
      li.dataset.complaintId = c.id;
      li.classList.toggle("closed", c.closed_at != null);
      const head = document.createElement("strong");
      head.textContent = `${c.ticket ? `Ticket ${c.ticket}` : "No ticket"} · opened ${when(c.opened_at)}`
        + (c.closed_at ? ` · closed ${when(c.closed_at)}` : " · open");
      const reason = document.createElement("div");
      reason.setAttribute("data-testid", "complaint-reason");
      reason.textContent = c.reason;
      li.append(head, reason);
      if (!c.closed_at) li.appendChild(closeForm(c));
      list.appendChild(li);
    }
  }

  function closeForm(complaint) {
    const f = document.createElement("form");
    const input = document.createElement("input");
    input.name = "resolution";
    input.required = true;
    input.maxLength = 5000;
    input.placeholder = "resolution";
    input.setAttribute("aria-label", "Resolution");
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Close complaint";
    f.append(input, button);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const err = byTestId("complaint-error");
      err.textContent = "";
      const id = current.id;
      const r = await post(`/api/recordings/${id}/complaints/${complaint.id}/close`, { resolution: input.value });
      if (!r.ok) { err.textContent = await errorText(r); return; }
      if (current && current.id === id) loadComments();
    });
    return f;
  }

  async function loadScorecards() {
    const r = await fetch("/api/qa/scorecards", { credentials: "same-origin" });
    if (!r.ok) return;
    const select = scoreForm.elements.scorecard;
    for (const card of await r.json()) {
      scorecards.set(card.id, card);
      const opt = document.createElement("option");
      opt.value = String(card.id);
      opt.textContent = card.name;
      select.appendChild(opt);
    }
    byTestId("no-scorecards").hidden = scorecards.size > 0;
  }

  function chosenCard() {
    return scorecards.get(Number(scoreForm.elements.scorecard.value)) || null;
  }

  function renderCriteria() {
    const box = byTestId("criteria");
    box.replaceChildren();
    const card = chosenCard();
    if (!card) { estimate(); return; }
    for (const c of card.criteria) {
      const label = document.createElement("label");
      const text = document.createElement("span");
      text.textContent = `${c.label} (weight ${c.weight}, 0–${c.max_points})`;
      const input = document.createElement("input");
      input.type = "number";
      input.min = "0";
      input.max = String(c.max_points);
      input.step = "1";
      input.required = true;
      input.dataset.criterion = String(c.id);
      input.setAttribute("data-testid", "criterion");
      input.setAttribute("aria-label", c.label);
      input.addEventListener("input", estimate);
      label.append(text, input);
      box.appendChild(label);
    }
    estimate();
  }

  // The page's estimate only; the saved total is the server's (shown after saving).
  function estimate() {
    const out = byTestId("score-estimate");
    const card = chosenCard();
    const inputs = [...byTestId("criteria").querySelectorAll("input")];
    if (!card || !inputs.length || inputs.some((i) => i.value === "" || !i.checkValidity())) {
      out.textContent = "—";
      return;
    }
    let earned = 0;
    let weights = 0;
    for (const c of card.criteria) {
      const input = inputs.find((i) => i.dataset.criterion === String(c.id));
      earned += (c.weight * Number(input.value)) / c.max_points;
      weights += c.weight;
    }
    out.textContent = ((earned / weights) * 100).toFixed(2);
  }

  async function open(item, tr) {
    for (const row of tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
    tr.classList.add("selected");
    current = { id: item.id, duration_ms: item.duration_ms, peaks: null, row: tr };
    for (const id of ["score-error", "complaint-error"]) byTestId(id).textContent = "";
    byTestId("score-saved").hidden = true;
    player.hidden = false;
    player.dataset.recordingId = item.id;
    document.querySelector("[data-testid=player-title]").textContent =
      `Recording ${item.id} · ${item.caller_number || "unknown caller"}`;
    durEl.textContent = fmt(item.duration_ms);
    audio.src = `/api/recordings/${item.id}/audio?variant=opus`;
    audio.playbackRate = Number(document.getElementById("speed").value);
    document.getElementById("download").href = `/api/recordings/${item.id}/audio?download=true`;
    const r = await fetch(`/api/recordings/${item.id}/peaks`, { credentials: "same-origin" });
    if (r.ok) {
      current.peaks = (await r.json()).peaks;
      canvas.dataset.peaks = String(current.peaks.length);
    }
    draw();
    loadComments();
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); search(false); });
  more.addEventListener("click", () => search(true));
  playBtn.addEventListener("click", () => { if (audio.paused) audio.play(); else audio.pause(); });
  audio.addEventListener("play", () => { playBtn.textContent = "Pause"; });
  audio.addEventListener("pause", () => { playBtn.textContent = "Play"; });
  audio.addEventListener("timeupdate", () => {
    posEl.textContent = fmt(audio.currentTime * 1000);
    byTestId("pin-at").textContent = posEl.textContent;
    draw();
  });
  document.getElementById("speed").addEventListener("change", (e) => { audio.playbackRate = Number(e.target.value); });
  canvas.addEventListener("click", (e) => {
    if (!current) return;
    const rect = canvas.getBoundingClientRect();
    const frac = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    audio.currentTime = (frac * current.duration_ms) / 1000;
    draw();
  });
  document.getElementById("comment-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const text = e.target.elements.text.value;
    const r = await fetch(`/api/recordings/${current.id}/comments`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ at_ms: Math.round(audio.currentTime * 1000), text }),
    });
    if (r.ok) { e.target.reset(); loadComments(); }
  });

  const scoreForm = document.getElementById("score-form");
  scoreForm.elements.scorecard.addEventListener("change", renderCriteria);
  scoreForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const err = byTestId("score-error");
    const saved = byTestId("score-saved");
    err.textContent = "";
    saved.hidden = true;
    const card = chosenCard();
    if (!card) { err.textContent = "choose a scorecard"; return; }
    const points = {};
    for (const input of byTestId("criteria").querySelectorAll("input")) {
      points[input.dataset.criterion] = Number(input.value);
    }
    const comment = scoreForm.elements.comment.value;
    const pin = scoreForm.elements.pin.checked && comment.trim() !== "";
    const atMs = Math.round(audio.currentTime * 1000);
    const { id, row } = current;
    const r = await post(`/api/recordings/${id}/scores`, { scorecard_id: card.id, points, comment });
    if (!r.ok) { err.textContent = await errorText(r); return; }
    const score = await r.json();
    byTestId("score-total").textContent = score.total.toFixed(2);
    saved.hidden = false;
    row.children[6].textContent = score.total.toFixed(2);
    if (pin) {
      const c = await post(`/api/recordings/${id}/comments`, { at_ms: atMs, text: comment });
      if (!c.ok) err.textContent = `score saved; the comment was not pinned: ${await errorText(c)}`;
    }
    scoreForm.elements.comment.value = "";
    scoreForm.elements.pin.checked = false;
    if (current && current.id === id) loadComments();
  });

  document.getElementById("complaint-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const err = byTestId("complaint-error");
    err.textContent = "";
    const ticket = e.target.elements.ticket.value.trim();
    const body = { reason: e.target.elements.reason.value };
    if (ticket) body.ticket = ticket;
    const id = current.id;
    const r = await post(`/api/recordings/${id}/complaints`, body);
    if (!r.ok) { err.textContent = await errorText(r); return; }
    e.target.reset();
    if (current && current.id === id) loadComments();
  });

  loadScorecards();

  // Admins: the access log (read-only, newest first).
  const accessForm = document.getElementById("access-form");
  if (accessForm) {
    const rows = byTestId("access-rows");
    const older = document.getElementById("access-older");
    let lastId = null;
    const loadAccess = async (append) => {
      const err = byTestId("access-error");
      err.textContent = "";
      const params = new URLSearchParams({ limit: "50" });
      const rid = accessForm.elements.recording_id.value;
      if (rid) params.set("recording_id", rid);
      if (append && lastId) params.set("before_id", String(lastId));
      const r = await fetch(`/api/recordings/access-log?${params}`, { credentials: "same-origin" });
      if (!r.ok) { err.textContent = await errorText(r); return; }
      const entries = await r.json();
      if (!append) rows.replaceChildren();
      for (const a of entries) {
        const tr = document.createElement("tr");
        tr.setAttribute("data-testid", "access-row");
        cell(tr, when(a.at));
        cell(tr, a.username);
        cell(tr, a.recording_id);
        cell(tr, a.action);
        cell(tr, a.variant);
        cell(tr, a.byte_range);
        cell(tr, a.ip);
        rows.appendChild(tr);
      }
      if (entries.length) lastId = entries[entries.length - 1].id;
      older.hidden = entries.length < 50;
    };
    accessForm.addEventListener("submit", (e) => { e.preventDefault(); loadAccess(false); });
    older.addEventListener("click", () => loadAccess(true));
    loadAccess(false);
  }
})();
