/**
 * The web view's HTML (issue 6), rendered on the server: pure functions from the cluster's JSON
 * to strings. Self-contained: the CSS and the few lines of script are served by the view itself
 * (`/assets/app.css`, `/assets/app.js`), the diagrams are inline SVG from src/visual, nothing refers
 * to another origin. The Content-Security-Policy allows scripts and styles from this origin only,
 * none inline: even markup that slipped past escaping could not run a script.
 *
 * Each page is a shell around a fragment (`#live`): the list of Apis, or one Api. The script opens
 * an EventSource on the page's stream and swaps in each fragment the server sends, so the page
 * follows the cluster without a reload.
 */
import type { KubeObject } from "../domain/Kube.ts"
import {
  type ApiView,
  apiView,
  childView,
  machineColumns,
  type MachineView,
  timelineOf,
  transitionText
} from "../visual/ApiView.ts"
import { findMachine, toSvg } from "../visual/Diagram.ts"

/** HTML text and attribute escaping. */
export const esc = (s: unknown): string =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c] ?? c)

/** The path of an Api's page; names are DNS labels, encoded anyway. */
export const apiPath = (namespace: string, name: string): string =>
  `/apis/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`

/** The stream of a page: `/events` for the list, `<page>/events` for an Api. */
export const streamPath = (page: string): string => (page === "/" ? "/events" : `${page}/events`)

// ---------------------------------------------------------------------------------------------
// shell

/** The pages' stylesheet, served as /assets/app.css. */
export const appCss = `
:root { color-scheme: light; --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #fff;
  --ok: #15803d; --ok-bg: #dcfce7; --info: #1d4ed8; --info-bg: #dbeafe; --warn: #b45309; --warn-bg: #fef3c7;
  --bad: #b91c1c; --bad-bg: #fee2e2; --off: #475569; --off-bg: #f1f5f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; background: #0f172a; color: #e2e8f0; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header .crumb { color: #cbd5e1; }
header .conn { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #334155; }
header .conn[data-state="live"] { background: #166534; color: #dcfce7; }
header .conn[data-state="reconnecting"] { background: #92400e; color: #fef3c7; }
main { padding: 16px 20px 40px; max-width: 1200px; }
h1 { font-size: 20px; margin: 4px 0 12px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.muted { color: var(--muted); }
.mono, code, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); background: #f1f5f9; }
tr:last-child td { border-bottom: none; }
td a { color: #1d4ed8; text-decoration: none; font-weight: 600; }
td a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12.5px; font-weight: 600; white-space: nowrap; }
.code-0, .ready-Unknown { color: var(--off); background: var(--off-bg); }
.code-1 { color: var(--info); background: var(--info-bg); }
.code-2, .ready-True { color: var(--ok); background: var(--ok-bg); }
.code-3, .ready-False { color: var(--bad); background: var(--bad-bg); }
.code-4, .code-5 { color: var(--warn); background: var(--warn-bg); }
.code-none { color: var(--muted); background: transparent; border: 1px dashed var(--line); }
.error { color: var(--bad); font-size: 12.5px; margin-top: 2px; }
.spec { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; background: var(--card); border: 1px solid var(--line); padding: 10px 14px; }
.spec dt { color: var(--muted); }
.spec dd { margin: 0; }
.machines { display: flex; flex-direction: column; gap: 14px; }
.machine { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.machine h3 { margin: 0 0 6px; font-size: 14px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.machine .diagram { overflow-x: auto; }
.machine svg { max-width: 100%; height: auto; }
.empty { padding: 18px; background: var(--card); border: 1px dashed var(--line); color: var(--muted); }
.warning td { background: #fffbeb; }
td.nowrap { white-space: nowrap; }
`

/** The pages' only script, served as /assets/app.js: follows the page's event stream. */
export const appScript = `
(function () {
  var live = document.getElementById("live");
  var conn = document.getElementById("conn");
  function show(state, text) { conn.setAttribute("data-state", state); conn.textContent = text; }
  if (!window.EventSource) { show("off", "no live updates in this browser"); return; }
  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("update", function (e) {
    live.innerHTML = JSON.parse(e.data).html;
    live.setAttribute("data-updates", String(Number(live.getAttribute("data-updates") || "0") + 1));
    show("live", "live \\u00b7 updated " + new Date().toLocaleTimeString());
  });
  source.onopen = function () { show("live", "live"); };
  source.onerror = function () { show("reconnecting", "reconnecting\\u2026"); };
})();
`

/** Served with every page: scripts and styles from this origin only (none inline), data: images. */
export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const shell = (title: string, crumb: string, page: string, fragment: string): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header><a href="/">api-controller</a><span class="crumb">${crumb}</span><span id="conn" class="conn" data-state="connecting">connecting\u2026</span></header>
<main id="live" data-stream="${esc(streamPath(page))}" data-updates="0">
${fragment}
</main>
</body>
</html>
`

// ---------------------------------------------------------------------------------------------
// pieces

/** A machine's state and code; "off" for a state that leaves its status field out (authentication Disabled). */
const codeBadge = (m: MachineView): string =>
  `<span class="badge code-${m.code ?? "none"}" data-machine="${esc(m.machine)}" data-state="${esc(m.state)}" data-code="${esc(m.code ?? "")}"${
    m.off ? ` title="${esc(m.machine)} off: ${esc(m.statusField)} not reported"` : ""
  }>${m.off ? "off" : esc(m.state)}${m.code !== undefined ? ` (${m.code})` : ""}</span>`

const readyBadge = (v: ApiView): string => {
  const r = v.ready
  const status = r?.status ?? "Unknown"
  return `<span class="badge ready-${esc(status)}" data-ready="${esc(status)}" title="${esc(r?.message ?? "not reconciled yet")}">Ready ${esc(status)}${
    r !== undefined && r.reason !== "Ready" ? ` \u00b7 ${esc(r.reason)}` : ""
  }</span>`
}

// ---------------------------------------------------------------------------------------------
// the list

/** The Apis, sorted by namespace and name, with a column per machine (the catalog's, in its order) and Ready. */
export const listFragment = (apis: ReadonlyArray<KubeObject>, options: { readonly synced: boolean }): string => {
  const views = apis.map(apiView).sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
  const heading = `<h1>Apis <span class="muted" id="count">${views.length}</span>${
    options.synced ? "" : ` <span class="badge code-1">cache still syncing</span>`
  }</h1>`
  if (views.length === 0) {
    return `${heading}<div class="empty" id="no-apis">No Apis in the cluster yet. This page updates by itself when one is created.</div>`
  }
  const rows = views.map((v) => {
    const key = `${v.namespace}/${v.name}`
    const problem = v.machines.map((m) => m.lastError).find((e) => e !== undefined)
    return `<tr class="api" data-key="${esc(key)}">` +
      `<td class="nowrap"><a href="${esc(apiPath(v.namespace, v.name))}">${esc(key)}</a>${v.deleting !== undefined ? ` <span class="badge code-0">deleting</span>` : ""}</td>` +
      `<td class="mono">${esc(v.spec.hostname)}</td>` +
      `<td class="mono">${esc(v.spec.service)}</td>` +
      v.machines.map((m) => `<td>${codeBadge(m)}</td>`).join("") +
      `<td>${readyBadge(v)}${problem !== undefined ? `<div class="error">${esc(problem)}</div>` : ""}</td>` +
      "</tr>"
  })
  return `${heading}
<table id="apis">
<thead><tr><th>Api</th><th>Hostname</th><th>Service</th>${
    machineColumns.map((c) => `<th data-machine="${esc(c.machine)}">${esc(c.title)}</th>`).join("")
  }<th>Ready</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>`
}

export const listPage = (fragment: string): string => shell("Apis - api-controller", " \u203a Apis", "/", fragment)

// ---------------------------------------------------------------------------------------------
// one Api

export interface DetailInput {
  readonly namespace: string
  readonly name: string
  /** Undefined when there is no such Api (not yet, or any more). */
  readonly api: KubeObject | undefined
  /** The children named after the Api, as cached. */
  readonly children: ReadonlyArray<KubeObject>
  /** Events in the namespace (filtered here), or why they could not be read. */
  readonly events: ReadonlyArray<KubeObject> | { readonly error: string }
}

const machineCard = (m: MachineView): string => {
  const entry = findMachine(m.machine)
  const svg = entry !== undefined ? toSvg(entry, { highlight: m.state, title: null }) : ""
  return `<section class="machine" data-machine="${esc(m.machine)}">
<h3>${esc(m.title)} ${codeBadge(m)} <span class="muted mono">${esc(m.statusField)}</span></h3>
${m.lastError !== undefined ? `<div class="error">${esc(m.lastError)}</div>` : ""}
<div class="diagram">${svg}</div>
</section>`
}

export const detailFragment = (input: DetailInput): string => {
  const key = `${input.namespace}/${input.name}`
  if (input.api === undefined) {
    return `<h1>${esc(key)}</h1><div class="empty" id="missing">There is no Api ${esc(key)} (not yet, or not any more). This page updates by itself when it appears.</div>`
  }
  const api = input.api
  const v = apiView(api)
  const events = "error" in input.events ? [] : input.events
  const timeline = [...timelineOf(api, events)].reverse()
  const children = input.children.map((c) => childView(api, c))
  const spec = [
    ["service", v.spec.service],
    ["hostname", v.spec.hostname],
    ["authentication", v.spec.authentication],
    ...(v.spec.mtls !== undefined ? [["mTLS", v.spec.mtls]] : []),
    ["generation", `${v.generation ?? "?"}${v.observedGeneration !== undefined ? ` (status describes ${v.observedGeneration})` : " (not reconciled yet)"}`],
    ["created", v.created ?? ""],
    ...(v.deleting !== undefined ? [["deleting since", v.deleting]] : []),
    ["Ready", v.ready !== undefined ? `${v.ready.status} \u00b7 ${v.ready.reason}: ${v.ready.message}` : "not reconciled yet"]
  ]
  return `<h1 data-key="${esc(key)}">${esc(key)} ${readyBadge(v)}</h1>
<dl class="spec">${spec.map(([k, val]) => `<dt>${esc(k)}</dt><dd>${esc(val)}</dd>`).join("")}</dl>
<h2>Machines <span class="muted">(current state highlighted)</span></h2>
<div class="machines">
${v.machines.map(machineCard).join("\n")}
</div>
<h2>Children</h2>
${
    children.length === 0
      ? `<div class="empty" id="no-children">No children named ${esc(input.name)} in ${esc(input.namespace)}.</div>`
      : `<table id="children"><thead><tr><th>Kind</th><th>Name</th><th>UID</th><th>Resource version</th><th>Owner</th><th>Hosts / origins</th></tr></thead><tbody>
${
        children.map((c) =>
          `<tr class="child" data-kind="${esc(c.kind)}"><td>${esc(c.kind)}</td><td class="mono">${esc(c.name)}</td><td class="mono">${esc(c.uid ?? "")}</td><td class="mono">${
            esc(c.resourceVersion ?? "")
          }</td><td>${c.owned ? "this Api" : `<span class="badge code-3">not this Api</span>`}</td><td class="mono">${
            esc([...c.hosts, ...c.origins].join(", "))
          }</td></tr>`
        ).join("\n")
      }
</tbody></table>`
  }
<h2>Timeline <span class="muted">(newest first: status.transitions and Events)</span></h2>
${"error" in input.events ? `<div class="error">Events could not be read: ${esc(input.events.error)}</div>` : ""}
${
    timeline.length === 0
      ? `<div class="empty">Nothing yet.</div>`
      : `<table id="timeline"><thead><tr><th>Time</th><th>Machine</th><th>Transition</th><th>Source</th><th>Message</th></tr></thead><tbody>
${
        timeline.map((t) =>
          `<tr class="step${t.type === "Warning" ? " warning" : ""}" data-machine="${esc(t.machine ?? "")}" data-to="${esc(t.to ?? "")}"><td class="mono nowrap">${esc(t.at)}</td><td>${
            esc(t.machine ?? "-")
          }</td><td class="mono nowrap">${esc(transitionText(t))}</td><td>${esc(t.source)}${t.count !== undefined ? ` \u00d7${t.count}` : ""}</td><td>${esc(t.message ?? "")}</td></tr>`
        ).join("\n")
      }
</tbody></table>`
  }`
}

export const detailPage = (namespace: string, name: string, fragment: string): string =>
  shell(
    `${namespace}/${name} - api-controller`,
    ` \u203a <a href="/">Apis</a> \u203a ${esc(namespace)}/${esc(name)}`,
    apiPath(namespace, name),
    fragment
  )
