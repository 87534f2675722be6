// The clanker-teams dashboard page: plain JavaScript, no build step, no dependencies.
//
// Every string an agent wrote reaches the page as data and is put in the DOM as
// text (textContent, text nodes, element properties), never parsed as HTML: the
// server's Content-Security-Policy enforces Trusted Types with no policy, so an
// innerHTML assignment would throw. Live data arrives by server-sent events
// (one stream per team); the page polls nothing.

const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
const $ = (sel) => document.querySelector(sel);

// ---- DOM helpers --------------------------------------------------------------------

// No HTML sinks, no handlers from strings, no URLs but the page's own #/routes.
const FORBIDDEN_PROPS = /^(innerHTML|outerHTML|srcdoc|insertAdjacentHTML|on.+|src|action|formAction)$/i;

/** An element with properties and children; strings become text nodes. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (FORBIDDEN_PROPS.test(k) || (k === "href" && !String(v).startsWith("#/"))) throw new Error(`h(): ${k} is not set this way`);
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k.startsWith("aria-") || k === "role") el.setAttribute(k, String(v));
    else el[k] = v;
  }
  append(el, children);
  return el;
}

/** Replaces an element's children (nulls skipped, strings as text). */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Text cut to `n` characters with "…". */
const cut = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
const byId = (a, b) => Number(a.id) - Number(b.id);
// One formatter each: toLocaleTimeString builds a new one per call, which costs more than drawing the row.
const TIME = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const STAMP = new Intl.DateTimeFormat([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const clock = (iso) => { const d = new Date(iso); return Number.isNaN(d.getTime()) ? String(iso) : TIME.format(d); };
const stamp = (iso) => { const d = new Date(iso); return Number.isNaN(d.getTime()) ? String(iso) : STAMP.format(d); };

function ageText(ms) {
  if (!Number.isFinite(ms)) return "–";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

// ---- state --------------------------------------------------------------------------

const COLUMNS = [["pending", "Pending"], ["planning", "Planning"], ["in_progress", "In progress"], ["completed", "Completed"]];
const FINISHED = new Set(["completed", "deleted"]);

const state = {
  team: new URLSearchParams(location.search).get("team"),
  info: null,
  members: [],
  tasks: new Map(),
  events: [],
  lastSeq: 0,
  docs: {},
  teams: [],
  me: "",
  /** store clock − this clock, ms (heartbeat ages are judged by the store's clock). */
  skew: 0,
  mail: null,
  mailAgent: null,
  showDeleted: false,
  openTask: null,
  painted: false,
};
let stream = null;

// ---- routing: ?team=NAME selects the team, #/board | #/mail/NAME | #/events the view ------------
// (Routes start with "/" so that no route is also an element id the browser would scroll to.)

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  if (!state.team) return setView("teams");
  if (hash.startsWith("mail")) {
    const agent = hash.slice(5) || state.mailAgent || state.info?.me || null;
    setView("mail");
    if (agent && agent !== state.mailAgent) { state.mailAgent = agent; state.mail = null; loadMail(); }
    renderMail();
  } else setView(hash === "events" ? "events" : "board");
}

function setView(v) {
  document.body.dataset.view = v;
  for (const a of document.querySelectorAll(".tabs a")) a.setAttribute("aria-current", a.dataset.view === v ? "page" : "false");
}

function selectTeam(team) {
  if (team === state.team) return;
  history.pushState(null, "", team ? `/?team=${encodeURIComponent(team)}#/board` : "/");
  start();
}

window.addEventListener("popstate", () => { if (new URLSearchParams(location.search).get("team") !== state.team) start(); else route(); });
window.addEventListener("hashchange", route);

// ---- the live stream ------------------------------------------------------------------

function start() {
  state.team = new URLSearchParams(location.search).get("team");
  Object.assign(state, { info: null, members: [], tasks: new Map(), events: [], lastSeq: 0, docs: {}, mail: null, mailAgent: null });
  stream?.close();
  // The server puts the team's snapshot in the page it serves: the first paint needs no second request.
  const embedded = document.getElementById("snapshot");
  let seen = null;
  if (embedded) {
    const d = JSON.parse(embedded.textContent);
    embedded.remove();
    if (state.team && d.team?.name === state.team) { applySnapshot(d); seen = d.version; }
  }
  if (seen === null) { renderAll(); route(); }
  const q = state.team ? `?team=${encodeURIComponent(state.team)}${seen !== null ? `&seen=${encodeURIComponent(seen)}` : ""}` : "";
  const es = new EventSource(`/api/stream${q}`);
  stream = es;
  setConn("connecting…", "");
  es.addEventListener("open", () => setConn("live", "live"));
  es.addEventListener("error", () => {
    if (es.readyState === EventSource.CLOSED) diagnose();
    else setConn("reconnecting…", "down");
  });
  es.addEventListener("teams", (e) => {
    const d = JSON.parse(e.data);
    if (d.me) state.me = d.me;
    state.teams = d.teams;
    renderTeamSelect();
    renderMe();
    if (!state.team) loadTeams();
  });
  es.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
  es.addEventListener("update", (e) => applyUpdate(JSON.parse(e.data)));
  es.addEventListener("gone", () => showProblem(`Team "${state.team}" was deleted.`));
  es.addEventListener("problem", (e) => showProblem(JSON.parse(e.data).error));
}

/** The stream was refused: say why (no token, no such team). */
async function diagnose() {
  setConn("disconnected", "down");
  const r = await fetch(`/api/teams`).catch(() => null);
  if (!r) return showProblem("The dashboard server is not reachable; is clanker-teams dashboard still running?");
  if (r.status === 401) return showProblem("Not signed in: open the address clanker-teams dashboard printed (it carries the access token).");
  if (state.team) showProblem(`Team "${state.team}" does not exist. Pick another team above.`);
}

function setConn(text, cls) {
  const el = $("#conn");
  el.textContent = text;
  el.className = `conn ${cls}`;
}

function showProblem(msg) {
  const el = $("#problem");
  el.hidden = !msg;
  el.textContent = msg ?? "";
}

function applySnapshot(d) {
  state.skew = d.serverNow - Date.now();
  state.info = d.team;
  state.members = d.members;
  state.tasks = new Map(d.tasks.map((t) => [t.id, t]));
  state.events = d.events;
  state.lastSeq = d.lastSeq;
  state.docs = d.docs;
  showProblem(null);
  renderAll();
  route();
  // A new snapshot after a reconnect: the open mail may have changed meanwhile too.
  if (state.painted && state.mailAgent) loadMail();
  state.painted = true;
}

function applyUpdate(d) {
  state.skew = d.serverNow - Date.now();
  if (d.team) { state.info = d.team; renderHead(); }
  if (d.tasks || d.removed) {
    for (const t of d.tasks ?? []) state.tasks.set(t.id, t);
    for (const id of d.removed ?? []) state.tasks.delete(id);
    renderBoard();
    if (state.openTask) {
      renderTaskInfo();
      // The actions on offer follow the task (a plan to review, an owner to release), but a half-typed feedback stays.
      if (actionsKey(state.tasks.get(state.openTask)) !== state.actionsKey) renderTaskActions();
    }
  }
  if (d.members) state.members = d.members;
  if (d.members || d.tasks) renderMembers();
  if (d.events) {
    const fresh = d.events.filter((e) => e.seq > state.lastSeq);
    if (fresh.length) {
      state.lastSeq = fresh.at(-1).seq;
      state.events = state.events.concat(fresh).slice(-1000);
      prependEvents(fresh);
    }
  }
  if (d.docs) { state.docs = d.docs; renderDocs(); }
  if (d.mail && state.mailAgent && d.mail.includes(state.mailAgent)) loadMail();
  if (d.members && document.body.dataset.view === "mail") renderMail();
}

// ---- rendering -------------------------------------------------------------------------

function renderAll() {
  renderTeamSelect();
  renderMe();
  renderTeams();
  renderHead();
  renderMembers();
  renderBoard();
  renderEvents();
  renderDocs();
  renderMail();
}

function renderMe() {
  const me = state.info?.me ?? state.me;
  $("#me").textContent = me ? `acting as ${me}` : "";
  $("#me").title = "Your actions are recorded in the event log under this name (clanker-teams dashboard --as NAME).";
}

function renderTeamSelect() {
  const sel = $("#team-select");
  const names = state.teams.slice();
  if (state.team && !names.includes(state.team)) names.unshift(state.team);
  fill(sel, h("option", { value: "" }, "All teams"), ...names.map((n) => h("option", { value: n, selected: n === state.team }, n)));
  sel.value = state.team ?? "";
}

$("#team-select").addEventListener("change", (e) => selectTeam(e.target.value || null));
$("#home").addEventListener("click", (e) => { e.preventDefault(); selectTeam(null); });

let teamsSummary = null;
async function loadTeams() {
  const r = await fetch("/api/teams");
  if (r.ok) { teamsSummary = await r.json(); renderTeams(); }
}

function renderTeams() {
  const box = $("#teams-view");
  if (state.team) return fill(box);
  const list = teamsSummary?.teams ?? state.teams.map((name) => ({ name }));
  fill(box,
    h("h1", null, "Teams"),
    list.length ? h("ul", { class: "team-list" }, list.map((t) => h("li", null,
      h("button", { type: "button", class: "team-card", on: { click: () => selectTeam(t.name) } },
        h("strong", null, t.name),
        t.description ? h("span", { class: "muted" }, t.description) : null,
        t.tasks ? h("span", { class: "muted small" }, `${t.members} members · ${t.tasks.pending} pending · ${t.tasks.planning} planning · ${t.tasks.in_progress} in progress · ${t.tasks.completed} done`) : null)))) :
      h("p", { class: "muted" }, "No teams yet. A lead creates one with team_create."),
  );
}

function renderHead() {
  const i = state.info;
  fill($("#team-head"), ...(i ? [h("h1", null, i.name), i.description ? h("p", { class: "muted" }, i.description) : null] : []));
}

function openBlockers(t) {
  return t.blockedBy.filter((b) => { const x = state.tasks.get(b); return x && !FINISHED.has(x.status); });
}

const isLead = () => !!state.info?.meIsLead;

function renderMembers() {
  const box = $("#members");
  fill(box, ...state.members.map(memberCard));
  updateAges();
}

function memberCard(m) {
  return h("article", { class: `member state-${m.state}`, dataset: { name: m.name } },
    h("header", null,
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("strong", { class: "mname", title: m.name }, m.name),
      m.role === "lead" ? h("span", { class: "badge" }, "lead") : null,
      h("span", { class: "state-label", title: m.detail }, m.state)),
    h("div", { class: "facts" },
      h("span", { class: "task" }, "task ", m.currentTask ? taskLink(m.currentTask) : "–"),
      h("span", { class: m.unread ? "unread" : "" }, `${m.unread} unread`),
      m.heartbeatAt ? h("span", { title: "last heartbeat" }, "♥ ", h("span", { class: "age", dataset: { hb: m.heartbeatAt } })) : null,
      m.host ? h("span", { class: "host", title: "host" }, m.host) : null),
    m.model ? h("div", { class: "model muted small", title: m.model }, m.model) : null,
    m.usage != null ? h("div", { class: "small" }, "usage: ", summarize(m.usage, 80)) : null,
    m.budget != null ? h("div", { class: "small" }, "budget: ", summarize(m.budget, 80)) : null,
    m.error ? h("p", { class: "err" }, cut(m.error, 300)) : null,
    h("div", { class: "row actions" },
      h("a", { class: "button", href: `#/mail/${encodeURIComponent(m.name)}` }, "Mail"),
      m.name !== (state.info?.me) ? h("button", { type: "button", on: { click: () => openCompose(m.name) } }, "Message") : null,
      isLead() && m.role !== "lead" && m.state !== "stopped" ? h("button", { type: "button", class: "danger", on: { click: () => confirmShutdown(m.name) } }, "Shut down") : null));
}

function taskLink(id) {
  return h("button", { type: "button", class: "link", on: { click: () => openTask(id) } }, `#${id}`);
}

function updateAges() {
  const now = Date.now() + state.skew;
  for (const el of document.querySelectorAll(".age")) el.textContent = ageText(now - Date.parse(el.dataset.hb));
}
setInterval(updateAges, 1000); // a local clock for "n s ago": it fetches nothing

const PLAN_LABEL = { submitted: "plan to review", approved: "plan approved", rejected: "plan rejected" };

function renderBoard() {
  const all = [...state.tasks.values()].sort(byId);
  const cols = COLUMNS.map(([status, label]) => {
    const list = all.filter((t) => t.status === status);
    return h("section", { class: "col", dataset: { status } },
      h("h2", null, label, h("span", { class: "count" }, String(list.length))),
      h("ol", { class: "cards" }, list.map(taskCard)));
  });
  // Element Timing: the browser records when the first task's text was painted (the browser test reads it).
  if (!state.painted) cols.find((c) => c.querySelector(".subject"))?.querySelector(".subject").setAttribute("elementtiming", "clanker-board");
  const deleted = all.filter((t) => t.status === "deleted");
  fill($("#board"), ...cols,
    deleted.length ? h("p", { class: "muted small deleted-toggle" },
      h("button", { type: "button", class: "link", on: { click: () => { state.showDeleted = !state.showDeleted; renderBoard(); } } }, `${state.showDeleted ? "Hide" : "Show"} ${deleted.length} deleted`),
      state.showDeleted ? h("ol", { class: "cards" }, deleted.map(taskCard)) : null) : null);
}

function taskCard(t) {
  const open = openBlockers(t);
  return h("li", { class: `card${t.planStatus === "submitted" ? " review" : ""}`, dataset: { id: t.id }, tabIndex: 0, on: { click: () => openTask(t.id), keydown: (e) => { if (e.key === "Enter") openTask(t.id); } } },
    h("div", { class: "card-top" },
      h("span", { class: "tid" }, `#${t.id}`),
      t.planStatus && PLAN_LABEL[t.planStatus] ? h("span", { class: `badge plan-${t.planStatus}` }, PLAN_LABEL[t.planStatus]) : null,
      open.length ? h("span", { class: "badge blocked", title: `blocked by ${open.map((b) => "#" + b).join(", ")}` }, `blocked by ${open.map((b) => "#" + b).join(", ")}`) : null),
    h("div", { class: "subject" }, t.subject),
    h("div", { class: "meta" },
      t.owner ? h("span", { class: "owner" }, t.owner) : h("span", { class: "owner none" }, "unowned"),
      t.blocks.length ? h("span", { class: "muted" }, `blocks ${t.blocks.map((b) => "#" + b).join(", ")}`) : null),
    t.activeForm && t.status === "in_progress" ? h("div", { class: "active" }, cut(t.activeForm, 120)) : null);
}

// ---- one task: details and the lead's decisions -------------------------------------------

async function openTask(id) {
  state.openTask = id;
  $("#task-result").textContent = "";
  renderTaskInfo();
  renderTaskActions();
  const dlg = $("#task-dialog");
  if (!dlg.open) dlg.showModal();
  const t = state.tasks.get(id);
  if (t?.cut) {
    const r = await fetch(`/api/task?team=${encodeURIComponent(state.team)}&id=${encodeURIComponent(id)}`);
    if (r.ok && state.openTask === id) { state.tasks.set(id, (await r.json()).task); renderTaskInfo(); }
  }
}

function renderTaskInfo() {
  const t = state.tasks.get(state.openTask);
  const box = $("#task-info");
  if (!t) return fill(box, h("p", { class: "muted" }, `Task #${state.openTask} is gone.`));
  const open = openBlockers(t);
  const section = (title, text, cls) => (text ? h("section", { class: cls ?? "" }, h("h3", null, title), h("pre", { class: "text" }, text)) : null);
  fill(box,
    h("h2", null, `#${t.id} `, t.subject),
    h("p", { class: "meta" },
      h("span", { class: `status s-${t.status}` }, t.status.replace("_", " ")),
      t.owner ? h("span", { class: "owner" }, t.owner) : h("span", { class: "owner none" }, "unowned"),
      t.planStatus && t.planStatus !== "none" ? h("span", { class: `badge plan-${t.planStatus}` }, `plan ${t.planStatus}`) : null,
      t.createdBy ? h("span", { class: "muted" }, `created by ${t.createdBy}`) : null,
      h("span", { class: "muted" }, `updated ${stamp(t.updatedAt)}`)),
    t.blockedBy.length ? h("p", null, "Blocked by ", t.blockedBy.map((b, i) => [i ? ", " : "", taskLink(b), open.includes(b) ? "" : " (done)"])) : null,
    t.blocks.length ? h("p", null, "Blocks ", t.blocks.map((b, i) => [i ? ", " : "", taskLink(b)])) : null,
    t.activeForm ? h("p", { class: "active" }, t.activeForm) : null,
    section("Description", t.description),
    section(`Plan (${t.planStatus ?? "none"})`, t.plan, "plan"),
    section("Plan feedback", t.planFeedback),
    section("Completion hook", t.hookFeedback));
}

const actionsKey = (t) => (t ? `${t.status}|${t.owner ?? ""}|${t.planStatus ?? ""}|${isLead()}` : "");

function renderTaskActions() {
  const t = state.tasks.get(state.openTask);
  state.actionsKey = actionsKey(t);
  const box = $("#task-actions");
  if (!t) return fill(box);
  const parts = [];
  if (t.planStatus === "submitted" && isLead()) {
    const feedback = h("textarea", { rows: 3, placeholder: "Feedback (required to reject; sent to the owner)", "aria-label": "Plan feedback" });
    parts.push(h("section", { class: "decide" }, h("h3", null, "Review the plan"),
      feedback,
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", dataset: { act: "approve" }, on: { click: () => run("#task-result", "task_evaluate_plan", { task_id: t.id, action: "approve", ...(feedback.value.trim() ? { feedback: feedback.value } : {}) }) } }, "Approve plan"),
        h("button", { type: "button", class: "danger", dataset: { act: "reject" }, on: { click: () => run("#task-result", "task_evaluate_plan", { task_id: t.id, action: "reject", feedback: feedback.value }) } }, "Reject with feedback"))));
  }
  if (!FINISHED.has(t.status)) {
    const who = h("select", { "aria-label": "New owner" },
      h("option", { value: "" }, "(nobody)"),
      state.members.map((m) => h("option", { value: m.name, selected: m.name === t.owner }, m.name)));
    parts.push(h("section", null, h("h3", null, "Owner"),
      h("div", { class: "row" }, who,
        h("button", { type: "button", dataset: { act: "reassign" }, on: { click: () => run("#task-result", "task_update", { task_id: t.id, owner: who.value }) } }, "Reassign"),
        t.owner ? h("button", { type: "button", dataset: { act: "release" }, on: { click: () => run("#task-result", "task_release", { task_id: t.id, reason: `released from the dashboard by ${state.info?.me ?? "team-lead"}` }) } }, "Release (back to pending)") : null)));
  }
  fill(box, ...parts);
}

$("#task-dialog").addEventListener("close", () => { state.openTask = null; });

// ---- actions: POST /api/action with the CSRF token; the server runs the tool ----------------

async function act(tool, args) {
  const r = await fetch("/api/action", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ team: state.team, tool, args }),
  });
  const body = await r.json().catch(() => ({ ok: false, error: `HTTP ${r.status}` }));
  if (!body.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

/** Runs an action, showing its result (or error) in `out`. */
async function run(out, tool, args) {
  const el = $(out);
  el.className = "result";
  el.textContent = "…";
  try {
    const r = await act(tool, args);
    el.textContent = r.text;
    el.className = "result ok";
    return true;
  } catch (e) {
    el.textContent = e.message;
    el.className = "result bad";
    return false;
  }
}

function openCompose(to) {
  const sel = $("#compose-to");
  const me = state.info?.me;
  fill(sel,
    ...state.members.filter((m) => m.name !== me).map((m) => h("option", { value: m.name }, m.name)),
    h("option", { value: "*" }, "everyone (broadcast)"));
  if (to) sel.value = to;
  $("#compose-result").textContent = "";
  const dlg = $("#compose-dialog");
  if (!dlg.open) dlg.showModal();
  $("#compose-content").focus();
}

$("#compose-open").addEventListener("click", () => openCompose(null));
$("#compose-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const to = $("#compose-to").value;
  const content = $("#compose-content").value;
  const summary = $("#compose-summary").value.trim() || cut(content.trim().split("\n")[0] ?? "", 60);
  const ok = await run("#compose-result", to === "*" ? "broadcast_message" : "send_message", to === "*" ? { content, summary } : { recipient: to, content, summary });
  if (ok) { $("#compose-content").value = ""; $("#compose-summary").value = ""; }
});

let shutdownTarget = null;
function confirmShutdown(name) {
  shutdownTarget = name;
  $("#confirm-title").textContent = `Shut down ${name}?`;
  $("#confirm-text").textContent = `${name} is asked to finish its turn and exit (it is killed after a grace period), then removed from the team; its unfinished tasks go back to pending.`;
  $("#confirm-result").textContent = "";
  $("#confirm-yes").disabled = false;
  $("#confirm-dialog").showModal();
}
$("#confirm-no").addEventListener("click", () => $("#confirm-dialog").close());
$("#confirm-yes").addEventListener("click", async () => {
  $("#confirm-yes").disabled = true;
  $("#confirm-result").textContent = `waiting for ${shutdownTarget} to exit…`;
  await run("#confirm-result", "process_shutdown_approved", { agent_name: shutdownTarget });
});

for (const b of document.querySelectorAll("dialog .close")) b.addEventListener("click", () => b.closest("dialog").close());

// ---- the event log ------------------------------------------------------------------------

/** One event in words (agent text stays text). */
function describe(e) {
  const d = e.data ?? {};
  const s = (v) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));
  const list = (v, p = "") => (Array.isArray(v) ? v.map((x) => p + s(x)).join(", ") : s(v));
  switch (e.kind) {
    case "message.sent": return `${s(d.from)} → ${s(d.to)}: ${s(d.summary)}`;
    case "message.broadcast": return `${s(d.from)} → everyone: ${s(d.summary)}`;
    case "message.read": return `${s(d.agent)} read ${s(d.count)} message(s)`;
    case "task.created": return `#${s(d.id)} created: ${s(d.subject)}${d.owner ? ` (owner ${s(d.owner)})` : ""}`;
    case "task.updated": return `#${s(d.id)} ${list(d.changed)} → ${s(d.status)}${d.owner ? ` (${s(d.owner)})` : ""}`;
    case "task.claimed": return `#${s(d.id)} claimed by ${s(d.owner ?? e.actor)}`;
    case "task.released": return `#${s(d.id)} released${d.owner ? ` from ${s(d.owner)}` : ""}${d.reason ? `: ${s(d.reason)}` : ""}`;
    case "task.recovered": return `${list(d.ids, "#")} back to pending: ${s(d.reason)}`;
    case "task.unblocked": return `${list(d.ids, "#")} unblocked by #${s(d.by)}`;
    case "plan.submitted": return `plan for #${s(d.id)} submitted`;
    case "plan.approved": return `plan for #${s(d.id)} approved${d.owner ? ` (${s(d.owner)})` : ""}`;
    case "plan.rejected": return `plan for #${s(d.id)} rejected: ${s(d.feedback)}`;
    case "member.added": return `${s(d.name)} joined (${s(d.role)})`;
    case "member.removed": return `${s(d.name)} removed${d.reason ? `: ${s(d.reason)}` : ""}`;
    case "hook.ran": return `completion hook of #${s(d.taskId)}: ${s(d.outcome)}`;
    case "task.completion_vetoed": return `completing #${s(d.id)} vetoed by its hook`;
    case "teammate.spawned": return `${s(d.name)} started (${s(d.kind)} ${s(d.pane)})`;
    case "teammate.shutdown_requested": return `${s(d.name)} asked to shut down`;
    case "teammate.stopped": return `${s(d.name)} ${d.exited ? "exited" : "was killed"}${Array.isArray(d.releasedTasks) && d.releasedTasks.length ? `; back to pending: ${list(d.releasedTasks, "#")}` : ""}`;
    case "teammate.killed": return `${s(d.name)} killed`;
    default: return cut(JSON.stringify(d), 200);
  }
}

function eventRow(e) {
  return h("li", { class: `ev k-${e.kind.split(".")[0]}`, dataset: { seq: String(e.seq) } },
    h("span", { class: "seq" }, String(e.seq)),
    h("time", { dateTime: e.time, title: e.time }, clock(e.time)),
    h("span", { class: "actor" }, e.actor),
    h("span", { class: "kind" }, e.kind),
    h("span", { class: "what" }, describe(e)));
}

function renderEvents() {
  fill($("#event-list"), ...state.events.slice().reverse().map(eventRow));
  $("#events-older").hidden = !(state.events[0]?.seq > 1);
}

function prependEvents(fresh) {
  const list = $("#event-list");
  list.prepend(...fresh.slice().reverse().map(eventRow));
  while (list.children.length > 1000) list.lastElementChild.remove();
}

$("#events-older").addEventListener("click", async () => {
  const first = state.events[0]?.seq;
  if (!first) return;
  const r = await fetch(`/api/events?team=${encodeURIComponent(state.team)}&before=${first}`);
  if (!r.ok) return;
  const older = (await r.json()).events;
  state.events = older.concat(state.events);
  $("#event-list").append(...older.slice().reverse().map(eventRow));
  $("#events-older").hidden = !(state.events[0]?.seq > 1);
});

// ---- documents other modules keep (milestones, reservations, votes, budgets) -------------------

/** A short line for any JSON value: scalars as they are, objects as "key: value" pairs. */
function summarize(v, n = 160) {
  if (v === null || typeof v !== "object") return cut(String(v), n);
  if (Array.isArray(v)) return cut(v.every((x) => x === null || typeof x !== "object") ? v.join(", ") : `${v.length} items`, n);
  return cut(Object.entries(v).map(([k, x]) => `${k}: ${x !== null && typeof x === "object" ? (Array.isArray(x) ? (x.every((y) => y === null || typeof y !== "object") ? `[${x.join(", ")}]` : `[${x.length}]`) : "{…}") : String(x)}`).join(" · "), n);
}

function renderDocs() {
  const entries = Object.entries(state.docs ?? {});
  fill($("#docs"), ...entries.map(([coll, docs]) => h("section", { class: "doc-coll", dataset: { coll } },
    h("h2", null, coll[0].toUpperCase() + coll.slice(1), h("span", { class: "count" }, String(docs.length))),
    h("ul", null, docs.map((d) => h("li", null, h("strong", null, d.key), " ", h("span", { class: "muted" }, summarize(d.value, 300))))))));
}

// ---- mail: each member's inbox, threads by sender ---------------------------------------------

let mailSeq = 0;
async function loadMail(before) {
  const agent = state.mailAgent;
  if (!agent || !state.team) return;
  const my = ++mailSeq;
  const r = await fetch(`/api/mail?team=${encodeURIComponent(state.team)}&agent=${encodeURIComponent(agent)}${before !== undefined ? `&before=${before}` : ""}`);
  if (my !== mailSeq || agent !== state.mailAgent) return;
  const body = await r.json().catch(() => null);
  if (!r.ok || !body) { state.mail = { agent, error: body?.error ?? `HTTP ${r.status}`, messages: [] }; return renderMail(); }
  state.mail = before !== undefined && state.mail?.agent === agent ? { ...body, messages: body.messages.concat(state.mail.messages) } : body;
  renderMail();
}

function renderMail() {
  fill($("#mail-members"), ...state.members.map((m) =>
    h("a", { class: "mail-member", href: `#/mail/${encodeURIComponent(m.name)}`, "aria-current": m.name === state.mailAgent ? "page" : "false" },
      h("span", null, m.name), m.unread ? h("span", { class: "count unread" }, String(m.unread)) : null)));
  const box = $("#mail-threads");
  const mail = state.mail;
  if (!state.mailAgent) return fill(box, h("p", { class: "muted" }, "Pick a member to read their mail."));
  if (!mail) return fill(box, h("p", { class: "muted" }, "Loading…"));
  if (mail.error) return fill(box, h("p", { class: "result bad" }, mail.error));
  const threads = new Map();
  for (const m of mail.messages) {
    if (!threads.has(m.from)) threads.set(m.from, []);
    threads.get(m.from).push(m);
  }
  const ordered = [...threads.entries()].sort((a, b) => Date.parse(b[1].at(-1).timestamp) - Date.parse(a[1].at(-1).timestamp));
  fill(box,
    h("h2", null, `Mail of ${mail.agent}`, h("span", { class: "count" }, `${mail.total}`)),
    mail.nextBefore !== null && mail.nextBefore !== undefined ? h("button", { type: "button", on: { click: () => loadMail(mail.nextBefore) } }, "Older messages") : null,
    ordered.length ? null : h("p", { class: "muted" }, "No messages."),
    ordered.map(([from, msgs]) => {
      const unread = msgs.filter((m) => !m.read).length;
      return h("section", { class: "thread", dataset: { from } },
        h("h3", null, `From ${from}`, h("span", { class: "muted small" }, ` · ${msgs.length} message${msgs.length === 1 ? "" : "s"}${unread ? ` · ${unread} unread` : ""}`)),
        h("ol", null, msgs.map((m) => h("li", { class: `msg${m.read ? "" : " unread"}`, dataset: { id: m.id } },
          h("div", { class: "msg-head" },
            h("time", { dateTime: m.timestamp, title: m.timestamp }, stamp(m.timestamp)),
            h("strong", { class: "summary" }, m.summary),
            m.kind ? h("span", { class: "badge" }, m.kind) : null,
            m.read ? null : h("span", { class: "badge unread" }, "unread")),
          h("pre", { class: "text content" }, m.content),
          m.cut ? h("p", { class: "muted small" }, "(cut: read it whole with clanker-teams call read_inbox)") : null))));
    }));
}

start();
