// Schemas: the registry's subjects with their latest version and compatibility level, and
// the global level.
import { enc } from "../api.js";
import { errorBox, field, h, replace, table } from "../dom.js";
import { LEVELS, registryBase, sr } from "../registry.js";

const MAX_SHOWN = 200; // subjects described at once (two calls each); the search narrows them

export async function render(ctx) {
  const { base, reason } = await registryBase();
  if (!base) {
    replace(ctx.main, h("h1", {}, "Schemas"), h("p", { class: "muted", id: "no-registry" }, `No schema registry on this node: ${reason}.`));
    return;
  }
  const search = h("input", { type: "search", id: "subject-search", placeholder: "name contains…" });
  const showDeleted = h("input", { type: "checkbox", id: "show-deleted-subjects" });
  const globalBox = h("div", { id: "global-level" });
  const listBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(ctx.main, h("h1", {}, "Schemas"),
    h("p", { class: "muted" }, "Confluent Schema Registry on this node: ", h("code", {}, base),
      " (a client's schema.registry.url; kraft up prints every node's)."),
    h("section", { class: "card", "aria-labelledby": "h-global" }, h("h2", { id: "h-global" }, "Global compatibility level"), globalBox),
    h("h2", {}, "Subjects"),
    h("div", { class: "toolbar" }, field("Search subjects", search), h("label", { class: "check" }, showDeleted, "Show soft-deleted subjects")),
    listBox);
  showGlobalLevel(globalBox);
  let names = [];
  const draw = async () => {
    const q = search.value.trim().toLowerCase();
    const shown = names.filter((s) => s.toLowerCase().includes(q));
    const global = (await sr("/config")).compatibilityLevel;
    const rows = await Promise.all(shown.slice(0, MAX_SHOWN).map((s) => subjectRow(s, global)));
    if (ctx.live) {
      replace(listBox, table(`${shown.length} of ${names.length} subjects${shown.length > MAX_SHOWN ? ` (the first ${MAX_SHOWN} shown)` : ""}`,
        [{ label: "Subject" }, { label: "Type" }, { label: "Latest version", num: true }, { label: "Schema id", num: true },
          { label: "Compatibility" }], rows, names.length ? "No subject matches." : "No subjects yet."));
    }
  };
  const load = async () => {
    try {
      names = await sr(`/subjects${showDeleted.checked ? "?deleted=true" : ""}`);
      await draw();
    } catch (err) { replace(listBox, errorBox(err)); }
  };
  search.addEventListener("input", () => draw().catch((err) => replace(listBox, errorBox(err))));
  showDeleted.addEventListener("change", load);
  await load();
}

async function subjectRow(subject, global) {
  const link = h("a", { href: `#/schemas/${enc(subject)}` }, subject);
  let latest = null;
  try { latest = await sr(`/subjects/${enc(subject)}/versions/latest?deleted=true`); } catch { /* only soft-deleted versions, or gone */ }
  const level = await levelOf(subject, global);
  return [link, latest ? latest.schemaType || "AVRO" : "–", latest ? latest.version : "–", latest ? latest.id : "–",
    level.own ? level.level : h("span", { class: "muted" }, `${level.level} (global)`)];
}

// {level, own}: the subject's own level, else the global one (asked for when not given).
export async function levelOf(subject, global) {
  try {
    return { level: (await sr(`/config/${enc(subject)}`)).compatibilityLevel, own: true };
  } catch (err) {
    if (err.code !== 40408) throw err; // 40408: no level of its own
    return { level: global || (await sr("/config")).compatibilityLevel, own: false };
  }
}

async function showGlobalLevel(box) {
  const select = h("select", { id: "global-level-select" }, LEVELS.map((l) => h("option", { value: l }, l)));
  const out = h("span", { "aria-live": "polite" });
  try { select.value = (await sr("/config")).compatibilityLevel; } catch (err) { replace(box, errorBox(err)); return; }
  const save = h("button", { type: "button" }, "Save");
  save.addEventListener("click", async () => {
    try {
      await sr("/config", { method: "PUT", body: { compatibility: select.value } });
      replace(out, h("span", { class: "notice", role: "status" }, `Global level set to ${select.value}.`));
    } catch (err) { replace(out, errorBox(err)); }
  });
  replace(box, h("p", { class: "muted" }, "Applies to every subject without a level of its own (Confluent's default: BACKWARD)."),
    h("div", { class: "toolbar" }, field("Level", select), save, out));
}
