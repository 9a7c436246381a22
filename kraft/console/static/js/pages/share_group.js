// One share group (KIP-932): its members, and per partition the stored start offset, the
// lag and the records in flight by state (a record held under a lock is stored available),
// with its dead-letter topic; an empty one can be reset (its start offsets) and deleted.
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
      const n = (v) => (v === null || v === undefined ? "–" : String(v));
      replace(partitions, table("Share partitions", [{ label: "Topic" }, { label: "Partition", num: true }, { label: "Start offset", num: true },
        { label: "Lag", num: true }, { label: "Available", num: true }, { label: "Acknowledged", num: true }, { label: "Archived", num: true }],
      g.partitions.map((p) => [p.topic_name, p.partition_id, n(p.start_offset), h("span", { class: "lag" }, n(p.lag)),
        p.in_flight.available, p.in_flight.acknowledged, p.in_flight.archived]), "No partitions (its topics have none)."));
    } catch (err) { replace(head, errorBox(err)); }
  });
}
