// One subject of the registry: its compatibility level, its versions (soft-deleted ones
// too), a version's schema text, a line diff between two versions, and deletes.
import { enc } from "../api.js";
import { action, confirmDialog, errorBox, field, h, replace, table } from "../dom.js";
import { lineDiff } from "../diff.js";
import { LEVELS, readable, sr } from "../registry.js";
import { levelOf } from "./schemas.js";

export async function render(ctx) {
  const subject = ctx.params[0];
  const path = `/subjects/${enc(subject)}`;
  const out = h("div", { id: "subject-result", "aria-live": "polite" });
  const levelBox = h("div", { id: "subject-level" });
  const versionsBox = h("div", {});
  const schemaBox = h("section", { class: "card", "aria-labelledby": "h-schema" }, h("h2", { id: "h-schema" }, "Schema"));
  const diffBox = h("section", { class: "card", "aria-labelledby": "h-diff" }, h("h2", { id: "h-diff" }, "Compare two versions"));
  replace(ctx.main, h("p", {}, h("a", { href: "#/schemas" }, "← Schemas")), h("h1", {}, `Subject ${subject}`), out,
    h("section", { class: "card", "aria-labelledby": "h-level" }, h("h2", { id: "h-level" }, "Compatibility level"), levelBox),
    h("section", { "aria-labelledby": "h-versions" }, h("h2", { id: "h-versions" }, "Versions"), versionsBox),
    h("div", { class: "grid" }, schemaBox, diffBox));
  const load = async () => {
    const records = await versionsOf(path);
    showLevel(subject, levelBox, out);
    if (!records.length) {
      replace(versionsBox, h("p", { class: "muted" }, "This subject has no versions (left)."));
      schemaBox.replaceChildren(schemaBox.firstChild); diffBox.replaceChildren(diffBox.firstChild);
      return;
    }
    replace(versionsBox, table(`${records.length} versions of ${subject} (soft-deleted ones too)`,
      [{ label: "Version", num: true }, { label: "Schema id", num: true }, { label: "Type" }, { label: "State" }, { label: "Actions" }],
      records.map((r) => [r.version, r.id, r.schemaType || "AVRO",
        r.deleted ? h("span", { class: "warn" }, "soft-deleted") : "live",
        deleteButton(subject, path, r, out, load)])));
    schemaBox.replaceChildren(schemaBox.firstChild, schemaView(records));
    diffBox.replaceChildren(diffBox.firstChild, diffView(records));
  };
  await load();
}

// Every version with its record, oldest first; `deleted` marks the soft-deleted ones.
async function versionsOf(path) {
  let all;
  try { all = await sr(`${path}/versions?deleted=true`); } catch (err) { if (err.code === 40401) return []; throw err; }
  const live = new Set(await sr(`${path}/versions`).catch(() => []));
  const records = await Promise.all(all.map((v) => sr(`${path}/versions/${v}?deleted=true`)));
  return records.map((r) => ({ ...r, deleted: !live.has(r.version) }));
}

async function showLevel(subject, box, out) {
  let level;
  try { level = await levelOf(subject); } catch (err) { replace(box, errorBox(err)); return; }
  const select = h("select", { id: "subject-level-select" }, LEVELS.map((l) => h("option", { value: l }, l)));
  select.value = level.level;
  const changed = (text) => { replace(out, h("p", { class: "notice", role: "status" }, text)); showLevel(subject, box, out); };
  const save = action("Save", async () => {
    await sr(`/config/${enc(subject)}`, { method: "PUT", body: { compatibility: select.value } });
    changed(`${subject} now checks new versions with ${select.value}.`);
  }, { out });
  const useGlobal = level.own ? action("Use the global level", async () => {
    await sr(`/config/${enc(subject)}`, { method: "DELETE" });
    changed(`${subject} now follows the global level.`);
  }, { out }) : null;
  replace(box, h("p", { class: "muted" }, level.own ? `${level.level}, set on this subject.` : `${level.level}, the global level (none set on this subject).`),
    h("div", { class: "toolbar" }, field("Level", select), save, useGlobal));
}

function deleteButton(subject, path, r, out, reload) {
  const what = `version ${r.version} of ${subject}`;
  const run = async () => {
    const question = r.deleted
      ? `Delete ${what} permanently? Its schema id stops resolving unless another subject holds it; records written with it can no longer be read by it.`
      : `Soft-delete ${what}? New registrations no longer see it; its schema id still resolves, and a permanent delete is then possible.`;
    if (!(await confirmDialog(question, r.deleted ? "Delete permanently" : "Soft-delete"))) return;
    await sr(`${path}/versions/${r.version}${r.deleted ? "?permanent=true" : ""}`, { method: "DELETE" });
    replace(out, h("p", { class: "notice", role: "status" }, `${r.deleted ? "Permanently deleted" : "Soft-deleted"} ${what}.`));
    await reload();
  };
  return action(r.deleted ? "Delete permanently" : "Soft-delete", run, { out, cls: "danger" });
}

function versionSelect(id, records, chosen) {
  const select = h("select", { id }, records.map((r) => h("option", { value: r.version }, `version ${r.version}${r.deleted ? " (soft-deleted)" : ""}`)));
  select.value = String(chosen.version);
  return select;
}

function schemaView(records) {
  const select = versionSelect("schema-version", records, records[records.length - 1]);
  const box = h("div", {});
  const show = () => {
    const r = records.find((x) => String(x.version) === select.value);
    const refs = (r.references || []).map((x) => h("li", {}, h("code", {}, x.name), ` → ${x.subject} version ${x.version}`));
    replace(box, h("p", { class: "muted" }, `Schema id ${r.id}, ${r.schemaType || "AVRO"}`),
      refs.length ? h("div", {}, "References:", h("ul", {}, refs)) : null,
      h("pre", { id: "schema-text", "aria-label": `schema of version ${r.version}` }, readable(r.schemaType, r.schema)));
  };
  select.addEventListener("change", show);
  show();
  return h("div", {}, h("div", { class: "toolbar" }, field("Version", select)), box);
}

const lines_ = (n) => `${n} line${n === 1 ? "" : "s"}`;

function diffView(records) {
  const last = records[records.length - 1];
  const from = versionSelect("diff-from", records, records.length > 1 ? records[records.length - 2] : last);
  const to = versionSelect("diff-to", records, last);
  const box = h("div", {});
  const show = () => {
    const a = records.find((x) => String(x.version) === from.value), b = records.find((x) => String(x.version) === to.value);
    const lines = lineDiff(readable(a.schemaType, a.schema), readable(b.schemaType, b.schema));
    const added = lines.filter((l) => l.op === "+").length, removed = lines.filter((l) => l.op === "-").length;
    replace(box, h("p", { id: "diff-summary", role: "status" }, added || removed ? `${lines_(added)} added, ${lines_(removed)} removed` : "The same schema text."),
      h("pre", { id: "schema-diff", class: "diff", "aria-label": `changes from version ${a.version} to version ${b.version}` },
        lines.map((l) => h("span", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "same" }, `${l.op} ${l.text}`))));
  };
  from.addEventListener("change", show);
  to.addEventListener("change", show);
  show();
  return h("div", {}, h("div", { class: "toolbar" }, field("From", from), field("To", to)), box);
}
