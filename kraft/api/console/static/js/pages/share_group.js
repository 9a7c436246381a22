// One share group (KIP-932): its members, and per partition numbers that add up: the
// share-partition start offset (SPSO), its end offset (SPEO), the high watermark, the
// records from SPSO to SPEO by state, those past SPEO not yet delivered, and the lag
// (KIP-1226: available + acquired + not yet delivered); with its dead-letter topic. An
// empty one can be reset (its start offsets) and deleted.
import { WITH_OPS, enc, opsOf, v3 } from "../api.js";
import { action, confirmDialog, errorBox, h, notAllowed, pill, replace, table } from "../dom.js";
import { resetForm } from "./group.js";
import { STATE_CLASS } from "./groups.js";

const POLL_MS = 4000;

export async function render(ctx) {
  const id = ctx.params[0];
  const head = h("div", {});
  const members = h("div", {});
  const partitions = h("div", {});
  const out = h("div", { "aria-live": "polite" });
  const resetBox = h("section", { class: "card", "aria-labelledby": "h-reset" }, h("h2", { id: "h-reset" }, "Reset offsets"));
  replace(ctx.main, h("p", {}, h("a", { href: "#/groups" }, "← Consumer groups")), h("h1", {}, `Share group ${id}`), head, out,
    h("section", { "aria-labelledby": "h-members" }, h("h2", { id: "h-members" }, "Members"), members),
    h("section", { "aria-labelledby": "h-partitions" }, h("h2", { id: "h-partitions" }, "Partitions"), partitions), resetBox);
  let topics = [];
  let state = null;
  let resetShown = false;
  await ctx.every(POLL_MS, async () => {
    try {
      const g = await v3(`/share-groups/${enc(id)}?${WITH_OPS}`);
      const may = opsOf(g);
      const dead = g.dead_letter_topic;
      state = g.state;
      topics = [...new Set(g.partitions.map((p) => p.topic_name))];
      if (!resetShown) { // AlterShareGroupOffsets needs READ on the group
        resetBox.append(may.has("READ") ? resetForm("share-groups", id, () => topics, () => state, out) : notAllowed("Resetting offsets", "READ", `group ${id}`));
        resetShown = true;
      }
      replace(head, h("p", {}, pill(g.state, STATE_CLASS[g.state] || ""), ` group epoch ${g.group_epoch}, coordinator ${g.coordinator_id}, `,
        "dead-letter topic ", dead ? h("a", { href: `#/topics/${enc(dead)}` }, dead) : h("span", { class: "muted" }, "none"),
        `, record lock ${g.configs["share.record.lock.duration.ms"]} ms, delivery limit ${g.configs["share.delivery.count.limit"]} `,
        !may.has("DELETE") ? h("span", { class: "muted" }, "(deleting it needs DELETE on the group)") : action("Delete group", async () => {
          if (!(await confirmDialog(`Delete share group ${id} and its stored state?`))) return;
          await v3(`/share-groups/${enc(id)}`, { method: "DELETE" });
          replace(out, h("p", { class: "notice", role: "status" }, `Deleted share group ${id}.`));
        }, { out, cls: "danger" })));
      replace(members, table("Share group members", [{ label: "Member id" }, { label: "Client id" }, { label: "Epoch", num: true },
        { label: "Subscribed topics" }],
      g.members.map((m) => [m.member_id, m.client_id || "–", m.member_epoch, m.subscribed_topics.join(", ") || "none"]), "No members."));
      replace(partitions, sharePartitions(g.partitions));
    } catch (err) { replace(head, errorBox(err)); }
  });
}

const n = (v) => (v === null || v === undefined ? "–" : String(v));

// Per partition: SPSO ≤ SPEO ≤ high watermark; SPEO − SPSO = available + acquired +
// acknowledged + archived; lag = available + acquired + not yet delivered (HW − SPEO).
function sharePartitions(parts) {
  const rows = parts.map((p) => {
    const f = p.in_flight;
    const inFlight = p.end_offset === null ? null : p.end_offset - p.start_offset;
    return [p.topic_name, p.partition_id, n(p.start_offset), n(p.end_offset), n(p.high_watermark),
      h("span", { class: "in-flight", title: "SPEO − SPSO: every record handed out at least once and not yet done, or done after a record before it" }, n(inFlight)),
      f.available, f.acquired, f.acknowledged, f.archived, n(p.not_yet_delivered),
      h("span", { class: "lag", title: "available + acquired + not yet delivered (KIP-1226)" }, n(p.lag)),
      p.source === "stored" ? h("span", { class: "muted", title: "no leader holds it now: nothing is acquired" }, "stored state") : p.source === "leader" ? "leader (live)" : "–"];
  });
  return [table("Share partitions", [{ label: "Topic" }, { label: "Partition", num: true }, { label: "Start offset (SPSO)", num: true },
    { label: "End offset (SPEO)", num: true }, { label: "High watermark", num: true }, { label: "In flight (SPEO − SPSO)", num: true },
    { label: "Available", num: true }, { label: "Acquired", num: true }, { label: "Acknowledged", num: true }, { label: "Archived", num: true },
    { label: "Not yet delivered (HW − SPEO)", num: true }, { label: "Lag", num: true }, { label: "From" }],
  rows, "No partitions (its topics have none)."),
  h("p", { class: "muted", id: "share-numbers" }, "How the numbers add up: every record below the start offset is done. ",
    "In flight = available + acquired + acknowledged + archived (a record acknowledged or archived after one still in flight stays counted until the start offset passes it). ",
    "Lag = available + acquired + not yet delivered = high watermark − start offset − acknowledged − archived (Kafka's share-group lag, KIP-1226). ",
    "Available records are delivered again (released, or a lock that ran out); acquired ones are held under a lock by a consumer now.")];
}
