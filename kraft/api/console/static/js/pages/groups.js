// Consumer groups: state and total lag of each; share groups (KIP-932) below them.
import { enc, v3 } from "../api.js";
import { errorBox, h, pill, replace, table } from "../dom.js";

const POLL_MS = 5000;
export const STATE_CLASS = { STABLE: "ok", EMPTY: "muted", DEAD: "bad", PREPARING_REBALANCE: "warn", COMPLETING_REBALANCE: "warn" };

export async function render(ctx) {
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const shares = h("div", {});
  replace(ctx.main, h("h1", {}, "Consumer groups"), box,
    h("section", { "aria-labelledby": "h-share" }, h("h2", { id: "h-share" }, "Share groups"), shares));
  await ctx.every(POLL_MS, async () => {
    try {
      const groups = (await v3("/consumer-groups")).data;
      const rows = await Promise.all(groups.map(async (g) => {
        let lag = "–";
        try { lag = (await v3(`/consumer-groups/${enc(g.consumer_group_id)}/lag-summary`)).total_lag; } catch { /* shown as – */ }
        return [h("a", { href: `#/groups/${enc(g.consumer_group_id)}` }, g.consumer_group_id), pill(g.state, STATE_CLASS[g.state] || ""),
          g.partition_assignor || "–", g.generation_id ?? "–", lag];
      }));
      replace(box, table(`${groups.length} groups`, [{ label: "Group" }, { label: "State" }, { label: "Assignor" },
        { label: "Generation", num: true }, { label: "Total lag", num: true }], rows, "No consumer groups yet."));
    } catch (err) { replace(box, errorBox(err)); }
    try {
      const groups = (await v3("/share-groups")).data;
      replace(shares, table(`${groups.length} share groups`, [{ label: "Share group" }, { label: "State" }, { label: "Members", num: true }],
        groups.map((g) => [h("a", { href: `#/share-groups/${enc(g.share_group_id)}` }, g.share_group_id),
          pill(g.state, STATE_CLASS[g.state] || ""), g.members_count]), "No share groups."));
    } catch (err) { replace(shares, errorBox(err)); }
  });
}
