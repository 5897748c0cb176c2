// The screen-pop's knowledge panel: the articles for the caller's open tickets
// (GET /api/knowledge/suggestions), and a search box (GET /api/knowledge/articles).
// Articles open in a new tab so the pop stays; everything is inserted as text.
"use strict";

(() => {
  const pops = document.getElementById("pops");
  if (!pops) return;

  async function getJson(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
    return data;
  }

  function fill(ul, articles, empty, extra) {
    ul.replaceChildren();
    if (!articles.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = empty;
      ul.append(li);
      return;
    }
    for (const a of articles) {
      const li = document.createElement("li");
      li.dataset.testid = "kb-pop-article";
      const link = document.createElement("a");
      link.href = `/knowledge/articles/${encodeURIComponent(a.id)}`;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = `#${a.id} ${a.title}`;
      li.append(link);
      const note = extra(a);
      if (note) li.append(` · ${note}`);
      ul.append(li);
    }
  }

  async function suggest(card, pop) {
    const ul = card.querySelector(".kb-suggestions");
    const numbers = (pop.open_tickets || []).map((t) => t.number).filter(Boolean);
    const key = numbers.join(",");
    if (card.dataset.kbFor === key) return; // shown already for these tickets
    card.dataset.kbFor = key;
    if (!numbers.length) {
      fill(ul, [], "No open tickets to suggest articles for: search below.", () => "");
      return;
    }
    const query = numbers.slice(0, 10).map((n) => `ticket=${encodeURIComponent(n)}`).join("&");
    try {
      const found = await getJson(`/api/knowledge/suggestions?${query}`);
      fill(ul, found, "No article for these tickets' services yet.", (a) => `for ${a.ticket}`);
    } catch (err) {
      fill(ul, [], `Suggestions unavailable: ${err.message}`, () => "");
    }
  }

  pops.addEventListener("pop:shown", (ev) => {
    const card = ev.target;
    const pop = ev.detail || {};
    suggest(card, pop);
    const form = card.querySelector(".kb-find");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "1";
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const out = card.querySelector(".kb-found");
      const params = new URLSearchParams({ q: form.q.value, limit: "5" });
      if (pop.county) params.set("county", pop.county);
      try {
        const found = await getJson(`/api/knowledge/articles?${params}`);
        fill(out, found.results, "No article has these words.", (a) => a.excerpt);
      } catch (err) {
        fill(out, [], `Not searched: ${err.message}`, () => "");
      }
    });
  });
})();
