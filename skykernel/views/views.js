// skykernel's views in the browser: one ES module for every view (an anywidget front end).
//
// A view is one widget model: `kind` picks the renderer below, `data` is what to show
// (plain data the Python side made). What the reader does that needs the kernel (expand a
// node, use or explore a service, clear or purge the cache, refresh) is one message on the
// view's comm, {op, id, ...}; the kernel answers {op: "reply", id, ...} with plain data.
// Nothing here reaches Lua. Without a kernel (a static export) the view still draws its
// data, and a request says that no kernel answered.

const NO_ANSWER_MS = 30000;

// --- small DOM helpers ----------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function button(label, cls, title, onclick) {
  return h("button", { class: `skv-button ${cls || ""}`, type: "button", title, onclick }, label);
}

// --- the one comm: requests and their replies -------------------------------------------

function channel(model) {
  const pending = new Map();
  const prefix = Math.random().toString(36).slice(2, 8);
  let next = 1;
  const onReply = (msg) => {
    if (!msg || msg.op !== "reply" || !pending.has(msg.id)) return;
    const { resolve, timer } = pending.get(msg.id);
    clearTimeout(timer);
    pending.delete(msg.id);
    resolve(msg);
  };
  model.on("msg:custom", onReply);
  return {
    request(op, payload) {
      const id = `${prefix}-${next++}`;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ error: "no answer from the kernel (is it running?)" });
        }, NO_ANSWER_MS);
        pending.set(id, { resolve, timer });
        try {
          model.send({ ...(payload || {}), op, id });
        } catch (e) {
          clearTimeout(timer);
          pending.delete(id);
          resolve({ error: `cannot reach the kernel: ${e}` });
        }
      });
    },
    close() {
      model.off("msg:custom", onReply);
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}

function setStatus(el, reply, fallback) {
  el.classList.toggle("skv-error", Boolean(reply && reply.error));
  el.textContent = (reply && (reply.error || reply.status)) || fallback || "";
}

// --- the upvalue tree (its own view, and inside the services view) ----------------------

const key = (path) => JSON.stringify(path);

function shownValue(row) {
  return (row.type === "function" ? row.source : row.preview) || "";
}

function mountTree(box, tree, request, opts) {
  let nodes = new Map();
  let focus = [];
  let title = "";
  let filter = "";
  let internalsOpen = false;
  const loading = new Set();

  function load(data) {
    nodes = new Map((data.nodes || []).map((n) => [key(n.path), n]));
    focus = data.focus || [];
    title = data.title || "";
  }
  function merge(list) {
    for (const n of list || []) nodes.set(key(n.path), n);
  }
  load(tree);

  const status = h("span", { class: "skv-status sk-status" });
  const input = h("input", {
    class: "skv-filter", type: "search", placeholder: "filter (key, value, source)",
    oninput: () => { filter = input.value.trim().toLowerCase(); draw(); },
  });
  const refresh = button("refresh", "sk-refresh", "probe every open node again", async () => {
    status.textContent = "probing…";
    const reply = await request("refresh", {});
    if (reply.tree) load(reply.tree);
    setStatus(status, reply);
    draw();
  });
  const body = h("div", { class: "skv-tree" });
  box.append(
    h("div", { class: "skv-toolbar" },
      h("span", { class: "skv-title" }, opts.heading || "upvalues"), h("code", {}, title),
      input, refresh, status),
    body);

  function matches(row, path) {
    if (!filter) return true;
    const n = nodes.get(key(path));
    if (n && n.expanded) return true;
    return `${row.key} ${row.preview || ""} ${row.source || ""}`.toLowerCase().includes(filter);
  }

  async function toggle(path) {
    const k = key(path);
    const n = nodes.get(k);
    if (n && n.rows && !n.error) {
      n.expanded = !n.expanded;
      draw();
      request(n.expanded ? "expand" : "collapse", { path }); // the kernel remembers it
      return;
    }
    loading.add(k);
    draw();
    const reply = await request("expand", { path });
    loading.delete(k);
    merge(reply.nodes);
    if (reply.error) setStatus(status, reply);
    draw();
  }

  function rowEl(row, path, depth, label) {
    const k = key(path);
    const child = nodes.get(k);
    const open = Boolean(child && child.expanded);
    const canOpen = row.expandable && !row.cycle;
    const cls = ["skv-row", "sk-row", canOpen ? "sk-node skv-open-able" : "",
      row.changed ? "sk-changed" : "", open ? "skv-opened" : ""].join(" ");
    const caret = canOpen ? (loading.has(k) ? "…" : open ? "▾" : "▸") : "";
    const el = h("div", {
      class: cls, style: `padding-left:${depth * 16 + 4}px`,
      role: canOpen ? "button" : undefined, tabindex: canOpen ? 0 : undefined,
      title: row.id ? `${row.key}: ${row.id}` : undefined,
    },
    h("span", { class: "skv-caret" }, caret),
    h("span", { class: "skv-key" }, label || row.key),
    h("span", { class: `skv-type skv-t-${row.type}` }, row.type),
    h("span", { class: "skv-value" }, shownValue(row)),
    row.cycle ? h("span", { class: "skv-badge skv-cycle" }, "↺ cycle (not followed)") : null,
    row.shared ? h("span", { class: "skv-badge skv-shared", title: row.shared.join("\n") },
      `⇄ shared with ${row.shared.slice(0, 3).join(", ")}${row.shared.length > 3 ? " …" : ""}`) : null,
    row.changed ? h("span", { class: "skv-badge skv-changed-badge" }, "● changed") : null);
    if (canOpen) {
      el.addEventListener("click", () => toggle(path));
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(path); }
      });
    }
    return el;
  }

  function children(path, depth, out) {
    const n = nodes.get(key(path));
    if (!n) return;
    if (n.error) out.push(h("div", { class: "skv-error", style: `padding-left:${depth * 16 + 4}px` }, n.error));
    for (const row of n.rows || []) {
      const p = [...path, row.step];
      if (!matches(row, p)) continue;
      entry(row, p, depth, out);
    }
    const left = (n.total || 0) - (n.rows || []).length;
    if (left > 0) {
      out.push(h("div", { style: `padding-left:${depth * 16 + 4}px` },
        button(`more (${left} left)`, "sk-more", "the next page of this node", async () => {
          const reply = await request("more", { path });
          merge(reply.nodes);
          setStatus(status, reply, "");
          draw();
        })));
    }
  }

  function entry(row, path, depth, out, label) {
    out.push(rowEl(row, path, depth, label));
    const n = nodes.get(key(path));
    if (n && n.expanded) children(path, depth + 1, out);
  }

  function draw() {
    const out = [];
    if (focus.length) {
      for (const g of focus) {
        out.push(h("div", { class: "skv-group" },
          h("span", { class: "skv-group-title" }, `your code: ${g.proto} protocol`),
          g.dispatch ? h("span", { class: "skv-muted" }, ` dispatch ${g.dispatch}`) : null));
        for (const item of g.items || []) {
          if (matches(item, item.path)) entry(item, item.path, 0, out, item.key);
        }
      }
      const root = nodes.get(key([])) || { rows: [] };
      const inner = [];
      children([], 0, inner);
      const details = h("details", { class: "skv-internals" },
        h("summary", {}, `skynet internals: ${(root.rows || []).map((r) => `${r.key} ${r.preview}`).join(", ")}`),
        inner);
      details.open = internalsOpen || Boolean(filter);
      details.addEventListener("toggle", () => { if (!filter) internalsOpen = details.open; });
      out.push(details);
    } else {
      const root = nodes.get(key([]));
      if (root && root.preview) out.push(h("div", { class: "skv-muted" }, root.preview));
      children([], 0, out);
    }
    body.replaceChildren(...out);
  }

  draw();
  return {
    setData(data) { load(data); draw(); },
  };
}

function renderUpvalues(root, model, chan) {
  root.classList.add("sk-upvalues");
  const tree = mountTree(root, model.get("data") || {}, chan.request, { heading: "upvalues" });
  const onData = () => tree.setData(model.get("data") || {});
  model.on("change:data", onData);
  return () => model.off("change:data", onData);
}

// --- %services: one table, one scroll area ----------------------------------------------

function renderServices(root, model, chan) {
  root.classList.add("sk-services");
  let data = model.get("data") || {};
  let rows = data.rows || [];
  let timer = null;
  const status = h("span", { class: "skv-status sk-status" });
  const refresh = async () => {
    const reply = await chan.request("refresh", {});
    if (reply.rows) rows = reply.rows;
    if (reply.error) setStatus(status, reply);
    draw();
  };
  const live = h("input", { type: "checkbox", class: "sk-live" });
  live.addEventListener("change", () => {
    if (live.checked && timer === null) timer = setInterval(refresh, 1000);
    if (!live.checked && timer !== null) { clearInterval(timer); timer = null; }
  });
  const tbody = h("tbody");
  const columns = data.columns || [];
  const table = h("table", { class: "skv-table sk-services-table" },
    h("thead", {}, h("tr", {}, h("th", { class: "skv-actions" }, ""),
      columns.map(([name, , number]) => h("th", { class: number ? "skv-num" : "" }, name)))),
    tbody);
  const explorer = h("div", { class: "skv-explorer" });
  const notes = h("div", { class: "skv-note skv-notes" });
  root.append(
    h("div", { class: "skv-toolbar" }, h("span", { class: "skv-title" }, "services"),
      data.title ? h("code", {}, data.title) : null,
      button("refresh", "sk-refresh", "read the table again", refresh),
      h("label", { class: "skv-live" }, live, " live"), status),
    h("div", { class: "skv-scroll" }, table),
    notes,
    explorer);

  async function use(row) {
    const reply = await chan.request("use", { handle: row.handle });
    if (reply.rows) rows = reply.rows;
    setStatus(status, reply);
    draw();
  }
  async function explore(row) {
    status.textContent = `probing ${row.address}…`;
    const reply = await chan.request("explore", { handle: row.handle });
    setStatus(status, reply, "");
    if (!reply.tree) return;
    const id = reply.explorer;
    const request = (op, payload) => chan.request(`tree:${op}`, { ...payload, explorer: id });
    explorer.replaceChildren();
    const box = h("div", { class: "skv-embedded sk-upvalues" });
    explorer.append(box);
    mountTree(box, reply.tree, request, { heading: "upvalues" });
    box.scrollIntoView({ block: "nearest" });
  }

  function draw() {
    tbody.replaceChildren(...rows.map((row) => h("tr", {
      class: `sk-service${row.current ? " skv-current" : ""}`, "data-address": row.address,
    },
    h("td", { class: "skv-actions" },
      button("use", "sk-use", row.lua ? `%use ${row.address}: run the next cells there` : "not a Lua service", () => use(row)),
      button("explore", "sk-explore", row.lua ? "open its upvalue explorer below" : "not a Lua service", () => explore(row))),
    columns.map(([name, field, number]) => {
      const value = row[field] === null || row[field] === undefined ? "" : String(row[field]);
      if (name === "name") {
        return h("td", { class: "skv-name", title: row.note || undefined },
          row.current ? "▶ " : "", value, row.note ? h("sup", { class: "skv-note" }, " *") : null);
      }
      if (name === "file") return h("td", { class: "skv-file", title: row.file_full || value }, value);
      return h("td", { class: number ? "skv-num" : "" }, value);
    }))));
    for (const b of tbody.querySelectorAll("tr")) {
      const row = rows.find((r) => r.address === b.dataset.address);
      if (row && !row.lua) for (const btn of b.querySelectorAll("button")) btn.disabled = true;
    }
    notes.replaceChildren(...rows.filter((r) => r.note).map((r) =>
      h("div", {}, h("b", {}, `* ${r.name.split(" ")[0]}`), `: ${r.note}`)));
  }
  draw();
  const onData = () => { data = model.get("data") || {}; rows = data.rows || []; draw(); };
  model.on("change:data", onData);
  return () => {
    if (timer !== null) clearInterval(timer);
    model.off("change:data", onData);
  };
}

// --- %protocols: the service's own chains first, skynet's folded -----------------------

function renderProtocols(root, model, chan) {
  root.classList.add("sk-protocols");
  const status = h("span", { class: "skv-status sk-status" });
  const body = h("div", {});
  const refresh = button("refresh", "sk-refresh", "probe the dispatch chains again", async () => {
    status.textContent = "probing…";
    setStatus(status, await chan.request("refresh", {}));
  });
  root.append(h("div", { class: "skv-toolbar" },
    h("span", { class: "skv-title" }, "protocol dispatch chains"), h("code", {}, (model.get("data") || {}).title || ""),
    refresh, status), body);

  function served(n) {
    return n === undefined || n === null ? "" : ` · served ${n} message${n === 1 ? "" : "s"}`;
  }
  function handlers(t, page) {
    let shown = page;
    const tbody = h("tbody");
    const replaced = t.handlers.filter((x) => x.replaced).length;
    const box = h("div", { class: "skv-handlers" },
      h("div", { class: "skv-chain" }, "→ ", h("b", {}, t.name), t.via ? ` via ${t.via}` : "",
        h("span", { class: "skv-muted" }, ` ${t.total} handler${t.total === 1 ? "" : "s"}, ${replaced} replaced`)),
      h("div", { class: "skv-scroll" }, h("table", { class: "skv-table" },
        h("thead", {}, h("tr", {}, ["handler", "source", "gen", "messages", "replaced"].map(
          (c) => h("th", { class: c === "messages" || c === "gen" ? "skv-num" : "" }, c)))),
        tbody)));
    const more = button("", "sk-more", "show the next handlers", () => { shown += page; fill(); });
    box.append(more);
    function fill() {
      tbody.replaceChildren(...t.handlers.slice(0, shown).map((x) => h("tr", {
        class: `sk-handler${x.replaced ? " sk-replaced" : ""}`,
      },
      h("td", { class: "skv-key" }, `${t.name}.${x.name}`),
      h("td", { class: "skv-file", title: x.source }, x.source || ""),
      h("td", { class: "skv-num" }, x.gen || "-"),
      h("td", { class: "skv-num" }, x.count === undefined ? "n/a" : String(x.count)),
      h("td", {}, x.replaced || ""))));
      const left = t.handlers.length - shown;
      more.textContent = `more ${t.name} (${left} left)`;
      more.style.display = left > 0 ? "" : "none";
    }
    fill();
    return box;
  }
  function proto(p, page) {
    const d = p.dispatch;
    return h("div", { class: "skv-proto sk-proto" },
      h("div", { class: "skv-chain" }, h("b", {}, p.name), h("span", { class: "skv-muted" }, ` (id ${p.id})`),
        ` dispatch ${d ? d.source : "none"}`,
        h("span", { class: "skv-muted" }, `${d && d.gen ? ` · gen ${d.gen}` : ""}${served(p.count)}`)),
      (p.tables || []).map((t) => handlers(t, page)));
  }
  function draw() {
    const data = model.get("data") || {};
    const page = data.page || 200;
    const protos = data.protocols || [];
    const own = protos.filter((p) => p.own);
    const rest = protos.filter((p) => !p.own);
    const out = own.map((p) => proto(p, page));
    if (!own.length) out.push(h("div", { class: "skv-muted" }, "no protocol of this service holds its own code"));
    if (rest.length) {
      const names = rest.map((p) => {
        const n = (p.tables || []).reduce((a, t) => a + (t.total || 0), 0);
        return n ? `${p.name} (${n} handlers)` : p.name;
      });
      out.push(h("details", { class: "skv-internals" },
        h("summary", {}, `skynet's own protocols: ${names.join(", ")}`), rest.map((p) => proto(p, page))));
    }
    const entry = (data.entry || []).map((e) => `${e.name} (${e.fn ? e.fn.source : "?"})`).join(" → ");
    if (entry) out.push(h("div", { class: "skv-muted skv-entry" }, `entry: ${entry}`));
    out.push(h("div", { class: "skv-note" }, data.note || ""));
    body.replaceChildren(...out);
  }
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}

// --- %codecache: generations, the memory chart, clear and purge ------------------------

function kb(n) {
  return n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;
}

function chart(history) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 420, H = 120, L = 52, R = 10, T = 10, B = 22;
  const w = W - L - R, hgt = H - T - B;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "sk-chart skv-chart");
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  if (!history.length) return svg;
  const top = Math.max(...history.map(([, b]) => b)) || 1;
  const x = (i) => L + (history.length > 1 ? (w * i) / (history.length - 1) : w / 2);
  const y = (b) => T + hgt - (hgt * b) / top;
  el("line", { x1: L, y1: T + hgt, x2: L + w, y2: T + hgt, class: "skv-axis" });
  el("line", { x1: L, y1: T, x2: L, y2: T + hgt, class: "skv-axis" });
  el("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, kb(top));
  el("text", { x: L - 4, y: T + hgt, "text-anchor": "end" }, "0");
  el("polyline", { points: history.map(([, b], i) => `${x(i)},${y(b)}`).join(" "), class: "skv-line" });
  const step = Math.max(1, Math.floor(history.length / 8));
  history.forEach(([label, b], i) => {
    const dot = el("circle", { cx: x(i), cy: y(b), r: 3, class: "skv-dot" });
    const t = document.createElementNS(NS, "title");
    t.textContent = `${label}: ${kb(b)}`;
    dot.append(t);
    if (i % step === 0) el("text", { x: x(i), y: H - 6, "text-anchor": "middle" }, label);
  });
  return svg;
}

function renderCodecache(root, model, chan) {
  root.classList.add("sk-codecache");
  const status = h("span", { class: "skv-status sk-status" });
  const act = (op) => async () => {
    status.textContent = `${op}…`;
    setStatus(status, await chan.request(op, {}));
  };
  const body = h("div", {});
  root.append(h("div", { class: "skv-toolbar" },
    h("span", { class: "skv-title" }, "code cache generations"),
    button("refresh", "sk-refresh", "read the cache again", act("refresh")),
    button("clear", "sk-clear", "start a new generation", act("clear")),
    button("purge", "sk-purge", "free generations no service holds", act("purge")),
    status), body);
  function draw() {
    const data = model.get("data") || {};
    const cards = (data.generations || []).map((g) => {
      const pinned = g.services || [];
      const state = g.current ? "current" : pinned.length ? "stale, pinned" : "stale, free";
      const cls = g.current ? "skv-current-gen" : pinned.length ? "skv-pinned" : "skv-free";
      return h("div", { class: `skv-card sk-generation ${cls}` },
        h("div", {}, h("b", {}, `generation ${g.generation}`), " ", h("span", { class: "skv-state" }, state)),
        h("div", {}, `${(g.files || []).length} files, ${kb(g.bytes || 0)}`),
        h("div", {}, `pinned by: ${pinned.join(" ") || "nobody"}`),
        h("details", {}, h("summary", {}, "files"),
          h("ul", {}, (g.files || []).map((f) => h("li", {}, f.filename, h("span", { class: "skv-muted" }, ` ${kb(f.bytes)}`))))));
    });
    body.replaceChildren(
      h("div", { class: "skv-cards" }, cards),
      h("div", { class: "skv-muted" }, "cache memory across clears and purges"),
      chart(data.history || []));
  }
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}

// --- the entry point ------------------------------------------------------------------

const RENDERERS = {
  upvalues: renderUpvalues,
  services: renderServices,
  protocols: renderProtocols,
  codecache: renderCodecache,
};

function render({ model, el }) {
  const kind = model.get("kind");
  const root = h("div", { class: `skv skv-${kind}` });
  el.append(root);
  const draw = RENDERERS[kind];
  if (!draw) {
    root.textContent = `skykernel: no view of kind ${kind}`;
    return undefined;
  }
  const chan = channel(model);
  const cleanup = draw(root, model, chan);
  return () => {
    if (cleanup) cleanup();
    chan.close();
  };
}

export default { render };
