// Inspector page: search recordings, replay them with a waveform, pin comments.
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

  async function loadComments() {
    const r = await fetch(`/api/recordings/${current.id}`, { credentials: "same-origin" });
    if (!r.ok) return;
    const detail = await r.json();
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

  async function open(item, tr) {
    for (const row of tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
    tr.classList.add("selected");
    current = { id: item.id, duration_ms: item.duration_ms, peaks: null };
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
  audio.addEventListener("timeupdate", () => { posEl.textContent = fmt(audio.currentTime * 1000); draw(); });
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
})();
