// The failure lab: the scenario library, a run on a throwaway cluster watched live, past reports.
import { call, enc } from "../api.js";
import { COLOURS, laneChart, lineChart } from "../chart.js";
import { action, errorBox, field, fmtTime, h, pill, replace, table } from "../dom.js";

const POLL_MS = 1000;
const PAST_SHOWN = 10; // newest runs listed before "Show all"
const STATE_CLASS = { running: "warn", passed: "ok", failed: "bad", skipped: "warn", stopped: "muted" };

export async function render(ctx) {
  const out = h("div", { "aria-live": "polite" });
  const library = h("div", {});
  const liveTitle = h("h2", { id: "h-live" }, "Current run");
  const live = h("section", { class: "card", id: "lab-live", "aria-labelledby": "h-live" }, liveTitle);
  const liveBody = live.appendChild(h("div", {}, h("p", { class: "muted" }, "No run yet.")));
  const past = h("div", {});
  const opened = h("div", {});
  // what a visitor comes back for first: the run (live or last), then the past ones; the library last
  replace(ctx.main, h("h1", {}, "Failure lab"),
    h("p", {}, "Each run starts a throwaway cluster of its own on this machine (its own loopback addresses and temp dir), runs the scenario's workload while its faults play, heals, reads everything back and checks that no acknowledged write was lost. It never touches this cluster: a node cannot safely kill its own peers."),
    out, live,
    h("section", { "aria-labelledby": "h-past" }, h("h2", { id: "h-past" }, "Past runs"), past, opened),
    h("section", { "aria-labelledby": "h-library" }, h("h2", { id: "h-library" }, "Scenario library"), library));
  const watch = { id: null, events: [], next: 0, over: false, showAll: false };
  const follow = (run) => Object.assign(watch, { id: run.run_id, events: [], next: 0, over: false });
  const { scenarios, may_start_runs: mayStart, fault_end_kinds: endKinds } = await call("/v1/lab/scenarios");
  watch.mayStart = mayStart;
  watch.endsFault = (kind) => endKinds.includes(kind);
  if (!mayStart) out.append(h("p", { class: "muted not-allowed" }, "Starting and stopping runs is not offered: only a super user may (a run starts processes on this node's machine). You can watch runs and open their reports."));
  replace(library, h("p", { class: "muted" }, "Takes: about how long a run lasts, from starting its throwaway cluster to the verdict (hover for the parts; longer on a busy machine). Needs: what the machine must offer, else the run is skipped, which is not a pass."),
    table(`${scenarios.length} scenarios`, [{ label: "Scenario" }, { label: "What it does" }, { label: "Faults" }, { label: "Takes" }, { label: "Needs" }, { label: "Run" }],
    scenarios.map((s) => {
      const takes = h("span", { class: "takes", title: takesWhy(s.takes, s.duration) }, takesText(s.takes, s.duration));
      const needs = s.needs.length ? h("span", { class: "needs" }, s.needs.join("; ")) : h("span", { class: "needs muted" }, "nothing more (runs anywhere)");
      return [h("code", {}, s.name), s.description, s.faults.join(", ") || "none", takes, needs,
        !mayStart ? "–" : startForm(s, out, follow, (seconds) => { takes.textContent = takesText(s.takes, seconds); takes.title = takesWhy(s.takes, seconds); })];
    })));
  const runs = (await call("/v1/lab/runs")).runs;
  const shown = runs.find((r) => r.state === "running") || runs[0]; // newest first: the last run when none runs
  if (shown) follow(shown);
  const drawPast = (list) => replace(past, pastRuns(list, watch, opened, () => { watch.showAll = true; drawPast(list); }));
  await ctx.every(POLL_MS, async () => {
    if (watch.id && !watch.over) await pollRun(watch, liveTitle, liveBody, out);
    try { drawPast((await call("/v1/lab/runs")).runs); } catch (err) { replace(past, errorBox(err)); }
  });
}

// The watched run's new events; once it is over and every event is read, polling it stops.
async function pollRun(watch, title, body, out) {
  const id = watch.id;
  try {
    const run = await call(`/v1/lab/runs/${enc(id)}?since=${watch.next}`);
    if (watch.id !== id) return; // a run started meanwhile: the next poll follows it
    watch.events.push(...run.events);
    watch.next = run.next;
    watch.over = run.state !== "running" && run.events.length === 0;
    title.textContent = run.state === "running" ? "Current run" : "Latest run";
    replace(body, liveView(run, watch.events, out, watch.mayStart, watch.endsFault));
  } catch (err) { replace(body, errorBox(err)); }
}

// About how long a run takes: the faults' seconds (the form's), the writes after healing, the rest.
function takesText(t, faults) {
  const f = Number(faults) || t.faults_s;
  return `about ${Math.round(f + t.recovery_s + t.setup_s)} s`;
}

function takesWhy(t, faults) {
  const f = Number(faults) || t.faults_s;
  return `${f} s of faults, ${t.recovery_s} s of writes after healing, ~${t.setup_s} s to start its cluster, read everything back and check`;
}

const ORIGIN = { cli: "command line (kraft scenario run)", console: "this console" };

function pastRuns(list, watch, opened, showAll) {
  const rows = watch.showAll ? list : list.slice(0, PAST_SHOWN);
  const more = list.length > rows.length
    ? h("p", {}, action(`Show all ${list.length} runs`, async () => showAll()), " ", h("span", { class: "muted" }, `(the ${rows.length} newest are listed)`))
    : null;
  return [table("Runs on this node and from the command line, newest first", [{ label: "Run" }, { label: "Started" }, { label: "From" }, { label: "State" }, { label: "Report" }],
    rows.map((r) => [r.run_id, fmtTime(r.started_ms), ORIGIN[r.origin] || r.origin || "–", pill(r.state, STATE_CLASS[r.state] || ""),
      r.report_json ? [action("Open", () => openReport(r, opened), { out: opened }), " ",
        h("a", { href: `/v1/lab/runs/${enc(r.run_id)}/report.html`, target: "_blank", rel: "noopener" }, "HTML report")] : "–"]),
    "No runs yet."), more];
}

function startForm(s, out, started, durationChanged) {
  const duration = h("input", { type: "number", min: 1, max: 3600, step: 1, size: 4, value: s.duration, "aria-label": `seconds of faults for ${s.name}` });
  duration.addEventListener("input", () => durationChanged(duration.value));
  const button = h("button", { type: "submit", class: "primary" }, "Start");
  const form = h("form", { class: "inline", "aria-label": `Start ${s.name}` }, field("Seconds", duration), button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      const run = await call("/v1/lab/runs", { method: "POST", body: { scenario: s.name, duration: Number(duration.value) } });
      replace(out, h("p", { class: "notice", role: "status" }, `Started ${run.run_id}.`));
      started(run);
      document.getElementById("lab-live").scrollIntoView();
    } catch (err) { replace(out, errorBox(err)); } finally { button.disabled = false; }
  });
  return form;
}

// Everything the events say so far: phase, write outcomes per second, faults, leaders and ISR, checks.
function liveView(run, events, out, mayStop, endsFault) {
  const ticks = events.filter((e) => e.event === "tick");
  const phases = events.filter((e) => e.event === "phase");
  const faults = ticks.flatMap((t) => t.faults);
  const samples = ticks.flatMap((t) => t.samples);
  const checks = events.filter((e) => e.event === "check");
  const last = ticks[ticks.length - 1];
  const rate = (key) => ticks.slice(1).map((t, i) => [t.t, Math.max(0, (t[key] - ticks[i][key]) / Math.max(0.1, t.t - ticks[i].t))]);
  const partitions = [...new Set(samples.map((x) => x.partition))].sort((a, b) => a - b);
  const end = last ? last.t : 1;
  const lanes = partitions.map((p) => {
    const mine = samples.filter((x) => x.partition === p);
    return {
      name: `p${p} leader`,
      spans: mine.map((x, i) => ({
        from: x.time_ms / 1000, to: i + 1 < mine.length ? mine[i + 1].time_ms / 1000 : end,
        colour: x.leader === null ? "#999" : COLOURS[(x.leader - 1) % COLOURS.length],
        label: `leader ${x.leader ?? "none"}, epoch ${x.leader_epoch}, ISR [${x.isr.join(", ")}], HW ${x.high_watermark ?? "?"}`,
      })),
    };
  });
  const marks = faults.map((f) => ({ at: f.time_ms / 1000, colour: endsFault(f.kind) ? "#2a9d8f" : "#e63946",
    label: `${f.kind} ${f.target.join(",")} ${f.detail}` }));
  const stop = run.state === "running" && mayStop && run.origin !== "cli" ? action("Stop run", () => call(`/v1/lab/runs/${enc(run.run_id)}`, { method: "DELETE" }), { out, cls: "danger" }) : null;
  const verdict = events.find((e) => e.event === "verdict");
  const skipped = events.find((e) => e.event === "skipped");
  const lostCheck = checks.find((c) => c.name === "lost_writes");
  const failColour = lostCheck && lostCheck.ok ? "#8a94a3" : "#e63946"; // failed, not lost: neutral once checked
  return h("div", {},
    h("p", { id: "lab-state" }, h("strong", {}, run.run_id), " ", pill(run.state, STATE_CLASS[run.state] || ""),
      ` phase: ${phases.length ? phases[phases.length - 1].phase : "starting"}`, last ? `, ${last.t.toFixed(1)} s into the workload` : "", " ", stop),
    last ? countsLine(last, faults.filter((f) => !endsFault(f.kind)).length) : null,
    last && last.fail && lostCheck && lostCheck.ok ? h("p", { id: "lab-failed-why", class: "muted" }, failedWhy(last.fail)) : null,
    skipped ? h("p", { class: "error", role: "alert" }, `Skipped (not a pass): ${skipped.reason}`) : null,
    run.reason && !skipped ? h("p", { class: "error", role: "alert" }, run.reason) : null,
    h("div", { class: "grid" },
      lineChart("Writes per second by outcome", [
        { name: "acknowledged", colour: "#2a9d8f", points: rate("ok") },
        { name: "failed", colour: failColour, points: rate("fail") },
        { name: "unknown", colour: "#f28e2b", points: rate("unknown") }]),
      lanes.length ? laneChart("Leader of each partition over time (colour = broker; red lines = faults)", lanes, marks) : h("p", { class: "muted" }, "No leader samples yet."),
      partitions.length ? lineChart("ISR size per partition", partitions.map((p, i) => ({
        name: `p${p}`, colour: COLOURS[i % COLOURS.length],
        points: samples.filter((x) => x.partition === p).map((x) => [x.time_ms / 1000, x.isr.length]) }))) : null),
    h("h3", {}, "Fault timeline"),
    faults.length ? h("ol", { class: "timeline", id: "lab-faults" }, faults.map((f) => h("li", {}, `${(f.time_ms / 1000).toFixed(1)} s: ${f.kind} ${f.target.length ? `node ${f.target.join(", ")}` : ""} ${f.detail}`)))
      : h("p", { class: "muted" }, "No fault yet."),
    h("h3", {}, "Checks"),
    checks.length ? table("Checker verdicts as they come", [{ label: "Check" }, { label: "" }, { label: "Summary" }],
      checks.map((c) => [c.name, checkPill(c), c.summary])) : h("p", { class: "muted" }, "The checks run once the workload has healed and read everything back."),
    verdict ? h("div", { id: "lab-verdict" }, h("h3", {}, `Verdict: ${verdict.passed ? "PASS" : "FAIL"}`), verdictTable(verdict.rows)) : null);
}

// A check that had nothing to judge in this scenario (no consumer group, security off, ...)
// says so: "not run" proves nothing, so it is neither green nor red.
function notRun(c) { return c.ran === false || /^not run\b/.test(c.summary || ""); }

function checkPill(c) {
  if (notRun(c)) return pill("not run", "muted");
  return c.ok ? pill("ok", "ok") : pill("violated", "bad");
}

// Failed writes were refused or timed out and the producer was told: not lost (lost:
// acknowledged, then missing), so the count is never red; the chart draws them grey once
// the lost-writes check passed, and the page says why they are expected.
function countsLine(last, faults) {
  return h("p", { id: "lab-counts" }, `writes acknowledged ${last.ok}, `, h("span", { id: "lab-failed" }, `failed ${last.fail}`),
    `, unknown ${last.unknown}, in flight ${last.in_flight}; faults ${faults}`);
}

function failedWhy(n) {
  return `The ${n} failed writes are expected under faults: the cluster refused them, could not be reached or did not answer in time (a node down, no leader, too few in-sync replicas for acks=all), and the producer was told, so it could retry. Failed writes are not lost writes: the lost-writes check found every acknowledged write.`;
}

function verdictTable(rows) {
  return table("Expectations", [{ label: "Check" }, { label: "Expected" }, { label: "Actual" }, { label: "" }, { label: "Details" }],
    rows.map((r) => [r.name, r.expected, notRun(r) ? "not run" : r.actual,
      notRun(r) ? pill("not run", "muted") : r.ok ? pill("✔ held", "ok") : pill("✘ broken", "bad"), r.summary]));
}

async function openReport(run, box) {
  const report = await call(`/v1/lab/runs/${enc(run.run_id)}/report.json`);
  replace(box, h("section", { class: "card", "aria-labelledby": "h-opened" }, h("h2", { id: "h-opened" }, `Report of ${run.run_id}: ${report.passed ? "PASS" : "FAIL"}`),
    h("p", {}, report.scenario.description), verdictTable(report.verdict),
    report.facts.writes_fail && (report.verdict.find((r) => r.name === "lost_writes") || {}).ok ? h("p", { class: "muted" }, failedWhy(report.facts.writes_fail)) : null,
    h("p", { class: "muted" }, Object.entries(report.facts).filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k}: ${v}`).join("; "))));
}
