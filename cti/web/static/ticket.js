// Ticket page: the action buttons and the note form post to the ticket API; the page is
// then loaded again so the timeline shows the change. Errors are shown as text.
"use strict";

(() => {
  const root = document.getElementById("ticket");
  if (!root) return;
  const number = root.dataset.number;
  const csrf = root.dataset.csrf;
  const result = root.querySelector(".result");

  async function post(path, body) {
    const r = await fetch(`/api/tickets/${encodeURIComponent(number)}/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
    return data;
  }

  function wire(form, send) {
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await send(form, ev.submitter);
        location.reload();
      } catch (err) {
        result.textContent = `Not done: ${err.message}`;
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }

  wire(root.querySelector(".action-form"), (form, button) => {
    const body = { action: button ? button.value : "", note: form.note.value };
    // An answer may name the knowledge article it was given from (typed number first).
    if (body.action === "answer" && form.article) {
      const chosen = form.article_number.value.trim() || form.article.value;
      if (chosen) body.article_id = Number(chosen);
    }
    return post("transitions", body);
  });
  wire(root.querySelector(".note-form"), (form) => post("notes", { note: form.note.value }));

  // A complaint about this ticket is a ticket of its own that names it (the Complain
  // button instead reopens this one); the page then opens the new ticket.
  const complaint = root.querySelector(".complaint-form");
  if (complaint) {
    complaint.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = complaint.querySelector("button");
      button.disabled = true;
      const d = complaint.dataset;
      const body = { category: d.category, description: complaint.description.value,
        complaint_of: number, channel: "phone" };
      if (d.subcategory) body.subcategory = d.subcategory;
      if (d.county) body.county = d.county;
      if (d.citizen) body.citizen_id = Number(d.citizen);
      try {
        const r = await fetch("/api/tickets", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify(body),
        });
        const data = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(data.detail || `error ${r.status}`);
        location.assign(`/tickets/${encodeURIComponent(data.number)}`);
      } catch (err) {
        result.textContent = `Not opened: ${err.message}`;
        button.disabled = false;
      }
    });
  }

  // Click-to-call: once the Originate is on its way, the call's state and the revisit form
  // are on the revisits page.
  const call = root.querySelector(".revisit-call-form");
  if (call) {
    call.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = call.querySelector("button");
      button.disabled = true;
      try {
        await post("revisit-call", {});
        location.assign(`/revisits#revisit-${encodeURIComponent(number)}`);
      } catch (err) {
        result.textContent = `Not called: ${err.message}`;
        button.disabled = false;
      }
    });
  }
})();
