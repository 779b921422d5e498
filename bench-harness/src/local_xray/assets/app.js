// xray-local's page. Every string from a trace is written with textContent (never innerHTML),
// so names, annotations and rejected datagrams cannot inject markup. The state lives in the
// URL fragment (#q=…&trace=…&entity=…&map=1) so a view can be linked to and reloaded.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function readState() {
  const params = new URLSearchParams(location.hash.slice(1));
  return {
    q: params.get("q") || "", trace: params.get("trace") || "", entity: params.get("entity") || "",
    map: params.get("map") || "",
  };
}

function writeState(changes) {
  const state = Object.assign(readState(), changes);
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) params.set(k, v);
  location.hash = params.toString();
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function ms(seconds) {
  return seconds == null ? "…" : (seconds * 1000).toFixed(1) + " ms";
}

function when(epoch) {
  return epoch == null ? "?" : new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 23);
}

function statusCell(status) {
  return el("td", { class: "status status-" + status }, status);
}

function cut(text, max) {
  return text.length > max ? text.slice(0, max) + "…" : text;
}

function annotationText(annotations) {
  return cut(Object.entries(annotations || {}).map(([k, v]) => k + " = " + cut(JSON.stringify(v), 120)).join(", "), 400);
}

function renderList(data, state) {
  const s = data.stats;
  document.getElementById("stats").textContent =
    `${s.datagrams} datagrams: ${s.accepted} accepted, ${s.rejected} rejected · ` +
    `${s.traces_kept} traces kept, ${s.traces_evicted} oldest dropped` +
    (s.otlp_spans ? ` · ${s.otlp_spans} OTLP spans` : "") +
    (s.entities_over_cap ? ` · ${s.entities_over_cap} entities over the per-trace cap dropped` : "") +
    (s.kernel_drops ? ` · kernel drops ${s.kernel_drops}` : "") +
    (s.not_kept ? ` · ${s.not_kept} datagrams not inspected for rejections (burst)` : "") +
    (s.rejected_dropped ? ` · ${s.rejected_dropped} older rejections dropped` : "");
  document.getElementById("filter-error").textContent = data.filter_error || "";
  document.getElementById("list-count").textContent = `(${data.traces.length} shown)`;
  const body = document.querySelector("#trace-list tbody");
  body.replaceChildren(...data.traces.map((t) => {
    const row = el("tr", { "data-trace": t.trace_id, class: t.trace_id === state.trace ? "selected" : "" },
      el("td", {}, when(t.start)),
      el("td", {}, ms(t.duration) + (t.in_progress ? " (in progress)" : "") +
        (t.entities_dropped ? ` (${t.entities_dropped} entities over the cap dropped)` : "")),
      statusCell(t.status),
      el("td", { class: "trace-name" }, t.name),
      el("td", { class: "trace-annotations" }, annotationText(t.annotations)),
      el("td", {}, el("code", {}, t.trace_id)));
    row.addEventListener("click", () => writeState({ trace: t.trace_id, entity: "" }));
    return row;
  }));
}

function renderWaterfall(data, state) {
  document.getElementById("trace-section").hidden = false;
  document.getElementById("trace-id").textContent = data.summary.trace_id;
  document.getElementById("trace-dropped").textContent = data.summary.entities_dropped
    ? `${data.summary.entities_dropped} entities over the per-trace cap were dropped; the waterfall is incomplete.`
    : "";
  const total = data.summary.duration || 0;
  const rows = data.rows.map((r) => {
    const left = total > 0 && r.offset != null ? (100 * r.offset) / total : 0;
    const width = total > 0 && r.duration != null ? (100 * r.duration) / total : 100;
    const bar = el("div", { class: `wf-bar status-${r.status}` + (r.in_progress ? " in-progress" : "") });
    bar.style.left = Math.max(0, Math.min(100, left)) + "%";
    bar.style.width = Math.max(0, Math.min(100 - left, width)) + "%";
    const name = el("div", { class: "wf-name" }, (r.segment ? "▣ " : "") + r.name);
    name.style.paddingLeft = 1.2 * Math.min(r.depth, 40) + "em";
    const row = el("div", { class: "wf-row" + (r.id === state.entity ? " selected" : ""), "data-entity": r.id, "data-depth": r.depth },
      name, el("div", { class: "wf-track" }, bar), el("div", { class: "wf-time" }, ms(r.duration)));
    row.addEventListener("click", () => writeState({ entity: r.id }));
    return row;
  });
  document.getElementById("waterfall").replaceChildren(...rows);
  const chosen = data.rows.find((r) => r.id === state.entity) || data.rows[0];
  renderDetails(chosen);
}

const SECTIONS = ["annotations", "metadata", "http", "aws", "sql", "cause"];

function renderDetails(row) {
  const details = document.getElementById("details");
  if (!row) return details.replaceChildren();
  const f = row.fields;
  const parts = [el("h3", { id: "details-name" }, row.name),
    el("div", {}, `id ${row.id} · ${row.segment ? "segment" : "subsegment"} · status ${row.status} · ${ms(row.duration)}`)];
  for (const key of SECTIONS) {
    if (f[key] === undefined) continue;
    parts.push(el("h3", {}, key));
    if (key === "cause" && Array.isArray(f.cause.exceptions)) {
      for (const ex of f.cause.exceptions) {
        parts.push(el("div", { class: "problem" }, `${ex.type || "exception"}: ${ex.message || ""}`));
        // OTLP stacks are text lines, kept as labels without a path.
        const stack = (ex.stack || []).map((s) =>
          `  at ${s.label || "?"}` + (s.path || s.line != null ? ` (${s.path || "?"}:${s.line ?? "?"})` : "")).join("\n");
        if (stack) parts.push(el("pre", {}, stack));
      }
    } else {
      parts.push(el("pre", {}, JSON.stringify(f[key], null, 2)));
    }
  }
  const rest = Object.fromEntries(Object.entries(f).filter(([k]) => !SECTIONS.includes(k)));
  parts.push(el("h3", {}, "fields"), el("pre", {}, JSON.stringify(rest, null, 2)));
  details.replaceChildren(...parts);
}

function renderMap(map) {
  // Columns by distance from callers; nodes no one calls start on the left.
  const column = map.nodes.map(() => 0);
  for (let pass = 0; pass < map.nodes.length; pass++) {
    for (const e of map.edges) if (e.from !== e.to) column[e.to] = Math.max(column[e.to], Math.min(column[e.from] + 1, 8));
  }
  const perColumn = {};
  const pos = map.nodes.map((_, i) => {
    const c = column[i];
    perColumn[c] = (perColumn[c] || 0) + 1;
    return { x: 20 + c * 300, y: 20 + (perColumn[c] - 1) * 70 };
  });
  const height = 40 + 70 * Math.max(1, ...Object.values(perColumn));
  const width = 40 + 300 * (1 + Math.max(0, ...column));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8896a8" }));
  defs.append(marker);
  root.append(defs);
  const faulty = new Set(map.edges.filter((e) => e.faults > 0).map((e) => e.to));
  for (const e of map.edges) {
    const a = pos[e.from], b = pos[e.to];
    root.append(svg("path", { class: "map-edge", d: `M${a.x + 170},${a.y + 20} L${b.x},${b.y + 20}` }));
    const ratio = e.calls ? Math.round((100 * (e.errors + e.faults)) / e.calls) : 0;
    root.append(svg("text", { class: "map-label", x: a.x + 176, y: (a.y + b.y) / 2 + 14 }, `${e.calls} calls, ${ratio}% err`));
  }
  map.nodes.forEach((n, i) => {
    const g = svg("g", { class: `map-node kind-${n.kind}` + (faulty.has(i) ? " has-faults" : ""), "data-name": n.name });
    g.append(svg("rect", { x: pos[i].x, y: pos[i].y, width: 170, height: 40, rx: 6 }));
    g.append(svg("text", { x: pos[i].x + 8, y: pos[i].y + 17 }, n.name.length > 26 ? n.name.slice(0, 25) + "…" : n.name));
    g.append(svg("text", { class: "map-label", x: pos[i].x + 8, y: pos[i].y + 33 }, n.kind));
    root.append(g);
  });
  document.getElementById("map").replaceChildren(root);
  document.getElementById("map-count").textContent =
    `(${map.nodes.length} nodes, ${map.edges.length} edges)`;
  document.querySelector("#edges tbody").replaceChildren(...map.edges.map((e) =>
    el("tr", {}, el("td", {}, map.nodes[e.from].name), el("td", {}, map.nodes[e.to].name),
      el("td", {}, e.calls), el("td", {}, e.errors), el("td", {}, e.faults))));
}

function renderRejected(data) {
  document.getElementById("rejected-count").textContent =
    `(${data.rejected.length} kept` + (data.dropped ? `, ${data.dropped} older dropped)` : ")");
  document.querySelector("#rejected tbody").replaceChildren(...data.rejected.map((r) =>
    el("tr", { class: "rejected-row" }, el("td", {}, r.seq), el("td", {}, r.from), el("td", {}, r.len),
      el("td", { class: "problem" }, r.reason), el("td", {}, el("pre", {}, r.message)), el("td", {}, el("pre", {}, r.head)))));
}

let refreshing = false;
let again = false;

async function refresh() {
  // A change of view during a refresh is shown right after it, not at the next poll.
  if (refreshing) { again = true; return; }
  refreshing = true;
  again = false;
  const state = readState();
  try {
    const [list, map, rejected] = await Promise.all([
      getJson("/api/traces?q=" + encodeURIComponent(state.q)),
      getJson("/api/map"),
      getJson("/api/rejected"),
    ]);
    renderList(list, state);
    renderMap(map);
    renderRejected(rejected);
    if (state.trace) renderWaterfall(await getJson("/api/trace?id=" + encodeURIComponent(state.trace)), state);
    else document.getElementById("trace-section").hidden = true;
    document.body.dataset.ready = "1";
    document.body.dataset.error = "";
  } catch (e) {
    document.body.dataset.error = String(e);
    document.getElementById("stats").textContent = "cannot reach xray-local: " + e;
  } finally {
    refreshing = false;
    if (again) refresh();
  }
}

document.getElementById("filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  writeState({ q: document.getElementById("filter").value });
});
document.getElementById("map-section").addEventListener("toggle", (event) => {
  writeState({ map: event.target.open ? "1" : "" });
});
// Only when the URL changes (a link, the back button), not on every poll: a poll must not
// undo a click or a keystroke in flight.
function syncControls() {
  const state = readState();
  document.getElementById("map-section").open = state.map === "1";
  document.getElementById("filter").value = state.q;
}
window.addEventListener("hashchange", () => { syncControls(); refresh(); });
syncControls();
refresh();
setInterval(refresh, POLL_MS);
