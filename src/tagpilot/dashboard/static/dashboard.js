// tagpilot dashboard: live updates (server-sent events), overview filters, buttons that call the API,
// and the API reference. Text from the server is inserted with textContent, never as markup.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function applyFilters() {
    const text = document.getElementById("filter-text");
    const state = document.getElementById("filter-state");
    if (!text || !state) return;
    const q = text.value.trim().toLowerCase();
    document.querySelectorAll("#overview tr.row").forEach((row) => {
      const okText = !q || row.textContent.toLowerCase().includes(q);
      const okState = !state.value || (row.dataset.badges || "").split(",").includes(state.value);
      row.hidden = !(okText && okState);
    });
  }

  async function post(button) {
    const out = document.getElementById("action-result");
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.post, {
        method: "POST", credentials: "same-origin", body: "{}",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      });
      const body = await response.json().catch(() => ({}));
      const text = response.ok ? `${button.textContent}: done` : `${button.textContent}: ${response.status} ${body.detail || ""}`;
      if (out) out.textContent = text; else window.alert(text);
      if (response.ok) refresh();
    } finally {
      button.disabled = false;
    }
  }

  let pending = null;
  async function refresh() {
    const response = await fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}});
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("live-region");
    const region = document.getElementById("live-region");
    if (!fresh || !region) return;
    const focused = document.activeElement && document.activeElement.id;
    const text = document.getElementById("filter-text"), state = document.getElementById("filter-state");
    const kept = [text && text.value, state && state.value];
    region.replaceChildren(...fresh.childNodes);
    const t2 = document.getElementById("filter-text"), s2 = document.getElementById("filter-state");
    if (t2) t2.value = kept[0] || ""; if (s2) s2.value = kept[1] || "";
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    applyFilters();
  }

  function live() {
    const badge = document.getElementById("live-state");
    if (!window.EventSource) { if (badge) badge.textContent = "no live updates"; return; }
    const source = new EventSource("/api/v1/stream");
    source.onopen = () => { if (badge) { badge.textContent = "live"; badge.dataset.state = "live"; } };
    source.onerror = () => { if (badge) { badge.textContent = "reconnecting…"; badge.dataset.state = "down"; } };
    source.addEventListener("tagpilot", (message) => {
      const event = JSON.parse(message.data);
      if (badge) badge.textContent = `live: ${event.reason} ${event.object}`;
      clearTimeout(pending);
      pending = setTimeout(refresh, 250);  // a burst of events reloads the region once
    });
  }

  async function apidocs(box) {
    const spec = await (await fetch(box.dataset.spec, {credentials: "same-origin"})).json();
    box.textContent = "";
    for (const [path, methods] of Object.entries(spec.paths || {})) {
      for (const [method, op] of Object.entries(methods)) {
        const section = document.createElement("details");
        const summary = document.createElement("summary");
        const verb = document.createElement("code");
        verb.className = "verb verb-" + method;
        verb.textContent = method.toUpperCase();
        summary.append(verb, " ", path, " ", op.summary || "");
        section.append(summary);
        const desc = document.createElement("p");
        desc.textContent = op.description || "";
        section.append(desc);
        if ((op.parameters || []).length) {
          const list = document.createElement("ul");
          for (const p of op.parameters) {
            const item = document.createElement("li");
            item.textContent = `${p.name} (${p.in}${p.required ? ", required" : ""})` + (p.description ? `: ${p.description}` : "");
            list.append(item);
          }
          section.append(list);
        }
        box.append(section);
      }
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-post]");
    if (button) { e.preventDefault(); post(button); }
  });
  document.addEventListener("input", (e) => {
    if (e.target.id === "filter-text" || e.target.id === "filter-state") applyFilters();
  });
  document.addEventListener("DOMContentLoaded", () => {
    applyFilters();
    const box = document.getElementById("apidocs");
    if (box) apidocs(box);
    live();
  });
})();
