// One consumer group: members and assignments, lag per partition, reset offsets, delete;
// why its REST consumer instances left (the group may be gone because of it).
import { WITH_OPS, call, enc, opsOf, v3 } from "../api.js";
import { action, confirmDialog, errorBox, field, h, notAllowed, pill, replace, table } from "../dom.js";
import { STATE_CLASS } from "./groups.js";

const POLL_MS = 4000;

export async function render(ctx) {
  const id = ctx.params[0];
  const head = h("div", {});
  const members = h("div", {});
  const lags = h("div", {});
  const out = h("div", { "aria-live": "polite" });
  const left = h("div", { "aria-live": "polite" });
  const resetBox = h("section", { class: "card", "aria-labelledby": "h-reset" }, h("h2", { id: "h-reset" }, "Reset offsets"));
  replace(ctx.main, h("p", {}, h("a", { href: "#/groups" }, "← Consumer groups")), h("h1", {}, `Group ${id}`), head, left, out,
    h("section", { "aria-labelledby": "h-members" }, h("h2", { id: "h-members" }, "Members and assignments"), members),
    h("section", { "aria-labelledby": "h-lags" }, h("h2", { id: "h-lags" }, "Committed offsets and lag"), lags), resetBox);
  let topics = [];
  let state = null;
  let resetShown = false;
  await ctx.every(POLL_MS, async () => {
    let departed = [];
    try { departed = (await call(`/v1/console/consumer-groups/${enc(id)}/departures`)).departures; } catch { /* none shown */ }
    replace(left, departed.length ? h("section", { "aria-labelledby": "h-left" }, h("h2", { id: "h-left" }, "Instances that left"),
      h("ul", { class: "departures" }, departed.map((d) => h("li", {}, whyLeft(d))))) : null);
    try {
      const g = await v3(`/consumer-groups/${enc(id)}?${WITH_OPS}`);
      const may = opsOf(g);
      state = g.state;
      if (!resetShown) { // committing offsets needs READ on the group
        resetBox.append(may.has("READ") ? resetForm("consumer-groups", id, () => topics, () => state, out) : notAllowed("Resetting offsets", "READ", `group ${id}`));
        resetShown = true;
      }
      replace(head, h("p", {}, pill(g.state, STATE_CLASS[g.state] || ""), ` assignor ${g.partition_assignor || "–"}, generation ${g.generation_id ?? "–"} `,
        !may.has("DELETE") ? h("span", { class: "muted" }, "(deleting it needs DELETE on the group)") : action("Delete group", async () => {
          if (!(await confirmDialog(`Delete group ${id} and its committed offsets?`))) return;
          await v3(`/consumer-groups/${enc(id)}`, { method: "DELETE" });
          replace(out, h("p", { class: "notice", role: "status" }, `Deleted group ${id}.`));
        }, { out, cls: "danger" })));
      const consumers = (await v3(`/consumer-groups/${enc(id)}/consumers`)).data;
      const rows = await Promise.all(consumers.map(async (c) => {
        const key = c.consumer_id || c.instance_id;
        let assigned = [];
        try { assigned = (await v3(`/consumer-groups/${enc(id)}/consumers/${enc(key)}/assignments`)).data; } catch { /* none shown */ }
        return [c.consumer_id, c.instance_id || "–", c.client_id, assigned.map((a) => `${a.topic_name}-${a.partition_id}`).join(", ") || "none"];
      }));
      replace(members, table("Members", [{ label: "Member id" }, { label: "Instance" }, { label: "Client id" }, { label: "Assigned partitions" }],
        rows, "No members (the group is empty)."));
      const lagRows = (await v3(`/consumer-groups/${enc(id)}/lags`)).data;
      topics = [...new Set(lagRows.map((r) => r.topic_name))];
      replace(lags, table("Lag per partition", [{ label: "Topic" }, { label: "Partition", num: true }, { label: "Committed", num: true },
        { label: "Log end", num: true }, { label: "Lag", num: true }, { label: "Consumer" }],
      lagRows.map((r) => [r.topic_name, r.partition_id, r.current_offset, r.log_end_offset, h("span", { class: "lag" }, String(r.lag)), r.consumer_id || "–"]),
      "No committed offsets."));
    } catch (err) {
      // a group of REST instances with no committed offsets is gone with its last instance
      replace(head, errorBox(err), err.status === 404 && departed.length
        ? h("p", { class: "notice", role: "status" }, `The group is gone with its last REST consumer instance: ${whyLeft(departed[0])}.`) : null);
    }
  });
}

// A REST consumer instance's departure as its client would want it explained.
function whyLeft(d) {
  if (d.reason === "expired") {
    return `instance ${d.instance_id} expired at ${d.at} (no request for ${duration(d.timeout_ms)}: consumer.instance.timeout.ms)`;
  }
  if (d.reason === "deleted") return `instance ${d.instance_id} was deleted at ${d.at} (DELETE of the instance)`;
  return `instance ${d.instance_id} was dropped at ${d.at}: node ${d.node_id} stopped coordinating the group (the leader of its offsets partition moved)`;
}

function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 60)} h`;
}

// Kafka's reset-offsets on an empty group: the chosen offsets set in one request
// (POST .../consumer-groups/{g}/offsets:alter, or .../share-groups/{g}/offsets:alter: a share
// group's start offsets, what it had in flight forgotten).
export function resetForm(kind, group, topicsOf, stateOf, out) {
  const to = h("select", { id: "reset-to" }, h("option", { value: "earliest" }, "earliest"), h("option", { value: "latest" }, "latest"),
    h("option", { value: "timestamp" }, "a time"));
  const when = h("input", { type: "datetime-local", step: 1, id: "reset-time" });
  const form = h("form", { class: "inline", "aria-label": "Reset offsets" }, field("Reset every partition of its topics to", to),
    field("Time (your local time)", when), h("button", { type: "submit" }, "Reset offsets"),
    h("p", { class: "muted", style: "flex-basis:100%" }, "Only an empty group (no members) can be reset, as in Kafka."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      if (stateOf() !== "EMPTY") throw Object.assign(new Error(`group ${group} has members (state ${stateOf()}); stop its consumers first`), { status: 0, code: 0 });
      const offsets = [];
      for (const t of topicsOf()) {
        const topic = await v3(`/topics/${enc(t)}`);
        for (let p = 0; p < topic.partitions_count; p++) {
          const base = `/topics/${enc(t)}/partitions/${p}/offsets`;
          const ends = await call(base);
          let offset = to.value === "earliest" ? ends.beginning_offset : ends.end_offset;
          if (to.value === "timestamp") {
            const found = await call(`${base}?timestamp=${new Date(when.value).getTime()}`);
            offset = found.offset ?? ends.end_offset;
          }
          offsets.push({ topic_name: t, partition_id: p, offset });
        }
      }
      if (!offsets.length) throw Object.assign(new Error("the group has no offsets to reset"), { status: 0, code: 0 });
      await v3(`/${kind}/${enc(group)}/offsets:alter`, { method: "POST", body: { offsets } });
      replace(out, h("p", { class: "notice", role: "status" }, `Reset ${offsets.length} partitions of group ${group} to ${to.value}.`));
    } catch (err) { replace(out, errorBox(err)); }
  });
  return form;
}
