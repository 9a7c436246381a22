// Topics: the list with search, messages and messages/s; create and delete.
import { WITH_OPS, cluster, enc, opsOf, v3 } from "../api.js";
import { action, confirmDialog, errorBox, field, fmtBytes, h, replace, table } from "../dom.js";

const POLL_MS = 5000;

export async function render(ctx) {
  const search = h("input", { type: "search", id: "topic-search", placeholder: "name contains…" });
  const showInternal = h("input", { type: "checkbox", id: "show-internal" });
  const listBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const out = h("div", { "aria-live": "polite" });
  const mayCreate = opsOf(await cluster()).has("CREATE");
  // without CREATE on the cluster a user may still hold CREATE on some topic names: the
  // form stays, folded, and says so
  const create = mayCreate
    ? h("section", { "aria-labelledby": "h-create", class: "card" }, h("h2", { id: "h-create" }, "Create a topic"), createForm(out, () => load()))
    : h("details", { class: "card", id: "create-limited" }, h("summary", {}, "Create a topic (your user may not CREATE on the cluster: only topic names your ACLs grant CREATE on will work)"),
      createForm(out, () => load()));
  replace(ctx.main, h("h1", {}, "Topics"),
    h("div", { class: "toolbar" }, field("Search topics", search), h("label", { class: "check" }, showInternal, "Show internal topics")),
    create, out, h("h2", {}, "All topics"), listBox);
  let topics = [];
  const previous = {}; // topic -> {t, messages} for messages/s
  const rates = {};
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = topics.filter((t) => (showInternal.checked || !t.is_internal) && t.topic_name.toLowerCase().includes(q));
    replace(listBox, table(`${shown.length} of ${topics.length} topics`,
      [{ label: "Topic" }, { label: "Partitions", num: true }, { label: "Replication", num: true }, { label: "Messages", num: true },
        { label: "Size", num: true }, { label: "Messages/s", num: true }, { label: "Actions" }],
      shown.map((t) => [h("a", { href: `#/topics/${enc(t.topic_name)}` }, t.topic_name), t.partitions_count, t.replication_factor,
        t.messages ?? "–", sizeCell(t), rates[t.topic_name] === undefined ? "–" : rates[t.topic_name].toFixed(1),
        t.is_internal || !opsOf(t).has("DELETE") ? "" : action("Delete", () => deleteTopic(t.topic_name, out, load), { out, cls: "danger" })]),
      "No topic matches."));
  };
  async function load() {
    const list = (await v3(`/topics?${WITH_OPS}`)).data;
    await Promise.all(list.map(async (t) => {
      try {
        const parts = (await v3(`/topics/${enc(t.topic_name)}/partitions`)).data;
        t.messages = parts.reduce((n, p) => n + Math.max(0, (p.high_watermark ?? 0) - (p.log_start_offset ?? 0)), 0);
        t.size = parts.reduce((n, p) => n + (p.size ?? 0), 0);
        t.sizeUnknown = parts.filter((p) => p.size === undefined).length;
        const now = Date.now() / 1000, end = parts.reduce((n, p) => n + (p.high_watermark ?? 0), 0);
        const before = previous[t.topic_name];
        if (before) rates[t.topic_name] = Math.max(0, (end - before.end) / (now - before.t));
        previous[t.topic_name] = { t: now, end };
      } catch { t.messages = null; }
    }));
    topics = list.sort((a, b) => a.topic_name.localeCompare(b.topic_name));
    draw();
  }
  search.addEventListener("input", draw);
  showInternal.addEventListener("change", draw);
  await ctx.every(POLL_MS, () => load().catch((err) => replace(listBox, errorBox(err))));
}

// Bytes of the partitions' logs as this node holds them; a partition it has no replica of is not counted.
function sizeCell(t) {
  if (t.size === undefined) return "–";
  if (!t.sizeUnknown) return fmtBytes(t.size);
  return h("span", { title: `${t.sizeUnknown} partitions have no replica on this node` }, `≥ ${fmtBytes(t.size)}`);
}

function createForm(out, reload) {
  const name = h("input", { name: "topic_name", id: "new-topic-name", required: true, pattern: "[a-zA-Z0-9._-]{1,249}" });
  const partitions = h("input", { name: "partitions_count", type: "number", min: 1, placeholder: "default" });
  const rf = h("input", { name: "replication_factor", type: "number", min: 1, placeholder: "default" });
  const configs = h("textarea", { name: "configs", rows: 2, placeholder: "cleanup.policy=compact\nretention.ms=86400000" });
  const form = h("form", { class: "inline", "aria-label": "Create a topic" },
    field("Name", name), field("Partitions", partitions), field("Replication factor", rf),
    h("label", { style: "flex:1 1 20em" }, "Configs (Kafka names, one name=value per line)", configs),
    h("button", { type: "submit", class: "primary" }, "Create topic"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { topic_name: name.value.trim() };
    if (partitions.value) body.partitions_count = Number(partitions.value);
    if (rf.value) body.replication_factor = Number(rf.value);
    const lines = configs.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines.length) body.configs = lines.map((l) => ({ name: l.split("=")[0].trim(), value: l.slice(l.indexOf("=") + 1).trim() }));
    try {
      const made = await v3("/topics", { method: "POST", body });
      replace(out, h("p", { class: "notice", role: "status" }, `Created topic ${made.topic_name} with ${made.partitions_count} partitions.`));
      form.reset();
      await reload();
    } catch (err) { replace(out, errorBox(err)); }
  });
  return form;
}

async function deleteTopic(name, out, reload) {
  if (!(await confirmDialog(`Delete topic ${name} and every record in it? This cannot be undone.`))) return;
  await v3(`/topics/${enc(name)}`, { method: "DELETE" });
  replace(out, h("p", { class: "notice", role: "status" }, `Deleted topic ${name}.`));
  await reload();
}
