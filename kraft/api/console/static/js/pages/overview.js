// Overview: brokers (grouped by host when they belong to [[hosts]] entries), the controller quorum, partition health, throughput per broker.
import { call, parseMetrics, v3 } from "../api.js";
import { COLOURS, lineChart } from "../chart.js";
import { errorBox, fmtBytes, fmtTime, h, pill, replace, stat, table } from "../dom.js";

const POLL_MS = 2000;
const POINTS = 60; // two minutes of throughput

async function settled(promise) {
  try { return { value: await promise }; } catch (error) { return { error }; }
}

export async function render(ctx) {
  const brokersBox = h("section", { class: "card", "aria-labelledby": "h-brokers" }, h("h2", { id: "h-brokers" }, "Brokers"));
  const quorumBox = h("section", { class: "card", "aria-labelledby": "h-quorum" }, h("h2", { id: "h-quorum" }, "Controller quorum"));
  const healthBox = h("section", { class: "card", "aria-labelledby": "h-health" }, h("h2", { id: "h-health" }, "Partition health"));
  const trafficBox = h("section", { class: "card", "aria-labelledby": "h-traffic" }, h("h2", { id: "h-traffic" }, "Throughput per broker (live, from each node's /metrics)"));
  replace(ctx.main, h("h1", {}, "Overview"), h("div", { class: "grid" }, brokersBox, quorumBox, healthBox), h("div", { style: "margin-top:16px" }, trafficBox));
  const bodies = [brokersBox, quorumBox, healthBox, trafficBox].map((box) => box.appendChild(h("div", {}, h("p", { class: "muted" }, "Loading…"))));
  const history = {}; // broker -> [{t, in, out, msgs}]
  await ctx.every(POLL_MS, () => refresh(bodies, history));
}

async function refresh([brokersBody, quorumBody, healthBody, trafficBody], history) {
  const [brokers, quorum, health, parts] = await Promise.all([
    settled(v3("/brokers")), settled(v3("/quorum")), settled(call("/v1/cluster/health_overview")), settled(allPartitions()),
  ]);
  if (brokers.error) replace(brokersBody, errorBox(brokers.error));
  else replace(brokersBody, brokerTable(brokers.value.data, health.value));
  if (quorum.error) replace(quorumBody, errorBox(quorum.error));
  else replace(quorumBody, quorumView(quorum.value));
  if (health.error) replace(healthBody, errorBox(health.error));
  else replace(healthBody, healthView(health.value, parts.value));
  if (!brokers.error) await traffic(trafficBody, brokers.value.data, history);
}

const BROKER_COLUMNS = [{ label: "Broker" }, { label: "HTTP address" }, { label: "State" }, { label: "Rack" }];

function brokerTable(brokers, health) {
  const down = new Set(health ? health.nodes_down : []);
  const row = (b) => {
    const states = [];
    if (b.fenced) states.push(pill("fenced", "bad"));
    if (b.in_controlled_shutdown) states.push(pill("controlled shutdown", "warn"));
    if (b.log_dir_failed) states.push(pill("data dir failed", "bad"));
    if (!states.length) states.push(pill(down.has(b.broker_id) ? "down" : "alive", down.has(b.broker_id) ? "bad" : "ok"));
    const controller = health && health.controller_id === b.broker_id ? " (active controller)" : "";
    return [`${b.broker_id}${controller}`, `${b.host}:${b.port}`, states, b.rack || "–"];
  };
  // brokers of [[hosts]] entries: grouped under their host, with its totals
  if (health && (health.brokers || []).some((r) => r.host_name)) return hostSections(brokers, health, row);
  return table("Registered brokers", BROKER_COLUMNS, brokers.map(row));
}

const percent = (n) => (n === null || n === undefined ? "–" : `${Math.round(n)}%`);

function hostSections(brokers, health, row) {
  const registered = Object.fromEntries(brokers.map((b) => [b.broker_id, b]));
  const counts = Object.fromEntries(health.brokers.map((r) => [r.broker_id, r]));
  const columns = [...BROKER_COLUMNS, { label: "Leaders", num: true }, { label: "Replicas", num: true },
    { label: "CPU", num: true }, { label: "Memory", num: true }];
  return h("div", {}, health.hosts.map((host) => {
    const title = host.host_name ? `Host ${host.host_name}` : `Broker ${host.brokers[0]} (no host entry)`;
    const rows = host.brokers.map((id) => {
      const c = counts[id];
      const base = registered[id] ? row(registered[id]) : [String(id), "–", pill("not registered", "bad"), "–"];
      return [...base, c.leaders, c.replicas, percent(c.cpu_percent), fmtBytes(c.rss_bytes)];
    });
    return h("section", { class: "host", "aria-label": title }, h("h3", {}, title),
      h("p", { class: "muted" }, `${host.brokers.length} broker(s), ${host.leaders} leaders, ${host.replicas} replicas, `,
        h("span", { class: host.under_replicated ? "bad" : null }, `${host.under_replicated} under-replicated`),
        `, CPU ${percent(host.cpu_percent)}, memory ${fmtBytes(host.rss_bytes)}`,
        host.unreported.length && host.cpu_percent !== null ? ` (broker(s) ${host.unreported.join(", ")} did not say)` : ""),
      table(host.host_name ? `Brokers of host ${host.host_name}` : title, columns, rows));
  }));
}

function quorumView(q) {
  const caughtUp = (v) => v.last_caught_up_ms > 0 ? new Date(v.last_caught_up_ms).toLocaleTimeString() : "–";
  const voters = q.voters.map((v) => [v.node_id === q.leader_id ? `${v.node_id} (leader)` : v.node_id,
    v.log_end_offset, v.lag, caughtUp(v)]);
  // controllers following the Raft log without a vote (kraft quorum add-voter makes them voters)
  const observers = (q.observers || []).filter((o) => o.kind === "controller")
    .map((o) => [`${o.node_id} (observer)`, o.log_end_offset, o.lag, caughtUp(o)]);
  return h("div", {},
    h("div", { class: "stats" }, stat("Raft leader", q.leader_id), stat("leader epoch (elections)", q.leader_epoch), stat("metadata high watermark", q.high_watermark)),
    h("p", { id: "last-election" }, "Last election: ", q.leader_elected_ms
      ? `node ${q.leader_id} won epoch ${q.leader_epoch} at ${fmtTime(q.leader_elected_ms)} (${ago(q.leader_elected_ms)} ago)`
      : "not known (no leader answered)"),
    table("Voters", [{ label: "Voter" }, { label: "Log end", num: true }, { label: "Lag", num: true }, { label: "Last caught up" }], [...voters, ...observers]));
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

async function allPartitions() {
  const [topics, configs] = await Promise.all([v3("/topics"), v3("/topics/-/configs")]);
  const minIsr = {};
  for (const c of configs.data) if (c.name === "min.insync.replicas") minIsr[c.topic_name] = Number(c.value);
  const lists = await Promise.all(topics.data.map((t) => v3(`/topics/${encodeURIComponent(t.topic_name)}/partitions`)
    .then((p) => p.data.map((x) => ({ ...x, min_isr: minIsr[t.topic_name] || 1 }))).catch(() => [])));
  return lists.flat();
}

function healthView(health, parts) {
  const counts = { total: 0, belowMin: 0, withElr: 0 };
  for (const p of parts || []) {
    counts.total++;
    if (p.leader_id !== null && p.leader_id >= 0 && p.isr.length < p.min_isr) counts.belowMin++;
    if ((p.eligible_leader_replicas || []).length) counts.withElr++;
  }
  const cls = (n) => (n ? "bad" : "ok");
  return h("div", {},
    h("p", {}, health.is_healthy ? pill("healthy", "ok") : pill("not healthy", "bad")),
    h("div", { class: "stats" },
      stat("partitions", parts ? counts.total : "–"),
      stat("offline (no leader)", health.leaderless_count, cls(health.leaderless_count)),
      stat("under-replicated", health.under_replicated_count, cls(health.under_replicated_count)),
      stat("below min ISR", parts ? counts.belowMin : "–", cls(counts.belowMin)),
      stat("with ELR", parts ? counts.withElr : "–"),
      stat("damaged replicas", health.damaged_count, cls(health.damaged_count)),
      stat("nodes down", health.nodes_down.length, cls(health.nodes_down.length))),
    h("p", { class: "muted", id: "unclean" }, ""));
}

async function traffic(body, brokers, history) {
  const now = Date.now() / 1000;
  let unclean = null;
  const failures = [];
  await Promise.all(brokers.map(async (b) => {
    const base = `${location.protocol}//${b.host}:${b.port}`;
    try {
      const text = await call("/metrics", { base: base === location.origin ? "" : base, text: true, timeout: 3000 });
      const m = parseMetrics(text);
      unclean = m.kafka_controller_controllerstats_uncleanleaderelections_total ?? unclean;
      const list = history[b.broker_id] || (history[b.broker_id] = []);
      list.push({ t: now, in: m.kafka_server_brokertopicmetrics_bytesin_total || 0, out: m.kafka_server_brokertopicmetrics_bytesout_total || 0,
        msgs: m.kafka_server_brokertopicmetrics_messagesin_total || 0 });
      if (list.length > POINTS + 1) list.shift();
    } catch (err) {
      failures.push(h("li", {}, `broker ${b.broker_id}: `, err.message, err.hint ? ` (${err.hint})` : ""));
    }
  }));
  const rate = (key) => Object.entries(history).map(([id, list], i) => ({
    name: `broker ${id}`, colour: COLOURS[i % COLOURS.length],
    points: list.slice(1).map((p, j) => [p.t - list[0].t, Math.max(0, (p[key] - list[j][key]) / (p.t - list[j].t))]),
  }));
  replace(body,
    h("div", { class: "grid" },
      lineChart("Bytes in per second (client writes, as leader)", rate("in"), { unit: "" }),
      lineChart("Bytes out per second (to consumers)", rate("out")),
      lineChart("Messages in per second", rate("msgs"))),
    h("p", { class: "muted" }, `Unclean leader elections recorded: ${unclean ?? "–"}. Totals since each node started: `,
      Object.entries(history).map(([id, l]) => `broker ${id} in ${fmtBytes(l[l.length - 1].in)}, out ${fmtBytes(l[l.length - 1].out)}`).join("; ")),
    failures.length ? h("div", { class: "error", role: "alert" }, "Some nodes' metrics could not be read:", h("ul", {}, failures)) : null);
}
