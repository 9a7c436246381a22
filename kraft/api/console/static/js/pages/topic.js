// One topic: partitions, its Iceberg table (an Iceberg topic), configs, the message browser
// and the produce form.
import { WITH_OPS, call, enc, opsOf, showBytes, textToB64, v3 } from "../api.js";
import { action, errorBox, field, fmtBytes, fmtTime, h, notAllowed, replace, table } from "../dom.js";
import { decodeFramed } from "../registry.js";

const POLL_MS = 4000;
const BINARY = "application/vnd.kafka.binary.v2+json";

export async function render(ctx) {
  const name = ctx.params[0];
  const topic = await v3(`/topics/${enc(name)}?${WITH_OPS}`);
  const may = opsOf(topic);
  const partsBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const configsBox = h("div", {});
  const browser = h("section", { class: "card", "aria-labelledby": "h-browse" }, h("h2", { id: "h-browse" }, "Messages"));
  const produce = h("section", { class: "card", "aria-labelledby": "h-produce" }, h("h2", { id: "h-produce" }, "Produce a message"));
  const iceberg = icebergTable(name, may);
  replace(ctx.main, h("p", {}, h("a", { href: "#/topics" }, "← Topics")), h("h1", {}, `Topic ${name}`),
    h("p", { class: "muted" }, `${topic.partitions_count} partitions, replication factor ${topic.replication_factor}`,
      topic.is_internal ? ", internal" : ""),
    h("section", { "aria-labelledby": "h-parts" }, h("h2", { id: "h-parts" }, "Partitions"), partsBox),
    iceberg.element,
    h("div", { class: "grid" }, browser, produce),
    h("section", { "aria-labelledby": "h-configs" }, h("h2", { id: "h-configs" }, "Configs"), configsBox));
  const messages = may.has("READ") ? messageBrowser(name, topic.partitions_count) : null;
  browser.append(messages ? messages.element : notAllowed("Reading messages", "READ", `topic ${name}`));
  // a message produced here shows in the browser at once
  produce.append(may.has("WRITE") ? produceForm(name, topic.partitions_count, () => messages && messages.reload()) : notAllowed("Producing", "WRITE to", `topic ${name}`));
  if (may.has("DESCRIBE_CONFIGS")) loadConfigs(name, configsBox, may.has("ALTER_CONFIGS"));
  else replace(configsBox, notAllowed("The configs list", "DESCRIBE_CONFIGS", `topic ${name}`));
  await ctx.every(POLL_MS, () => Promise.all([iceberg.refresh(), (async () => {
    try {
      const parts = (await v3(`/topics/${enc(name)}/partitions`)).data;
      replace(partsBox, table(`Partitions of ${name}`,
        [{ label: "Partition", num: true }, { label: "Leader" }, { label: "Epoch", num: true }, { label: "Replicas" }, { label: "ISR" },
          { label: "ELR" }, { label: "High watermark", num: true }, { label: "Log start", num: true }, { label: "Log end", num: true },
          { label: "Size", num: true }],
        parts.map((p) => [p.partition_id, p.leader_id === null || p.leader_id < 0 ? h("span", { class: "bad" }, "none (offline)") : p.leader_id,
          p.leader_epoch, p.replica_ids.join(", "),
          h("span", { class: p.isr.length < p.replica_ids.length ? "warn" : "" }, p.isr.join(", ") || "empty"),
          (p.eligible_leader_replicas || []).join(", ") || "–", p.high_watermark ?? "–", p.log_start_offset ?? "–", p.log_end_offset ?? "–",
          p.size === undefined ? "–" : h("span", { title: `${p.size} bytes on this node's replica` }, fmtBytes(p.size))])));
    } catch (err) { replace(partsBox, errorBox(err)); }
  })()]));
}

// An Iceberg topic's table (docs/ICEBERG.md): its name and mode, the last snapshot, each
// partition's translation against its last stable offset, and how to query it. Shown only
// while iceberg.mode is not disabled; the box's data-mode says what the last answer said.
// The query snippets are made once, so a refresh does not undo a selection in them.
function icebergTable(topic, may) {
  const element = h("div", { id: "iceberg" });
  const status = h("div", { "aria-live": "polite" });
  const partsBox = h("div", {});
  const queryBox = h("div", {});
  let shown = false;
  const show = (mode, ...body) => {
    if (mode === "disabled") { shown = false; replace(element); replace(partsBox); replace(queryBox); return; }
    if (!shown) {
      replace(element, h("section", { "aria-labelledby": "h-iceberg" }, h("h2", { id: "h-iceberg" }, "Iceberg table"),
        status, partsBox, queryBox));
      shown = true;
    }
    if (mode !== null && !queryBox.hasChildNodes()) {
      replace(queryBox, may.has("READ") ? querySnippets(topic, warehouse) : notAllowed("Querying the table", "READ", `topic ${topic}`));
    }
    replace(status, ...body);
  };
  let warehouse; // "directory" or "s3", once the table's state says
  const modeLine = (mode, made) => h("p", {}, "Table ", h("code", { class: "iceberg-table" }, `kraft.${topic}`), ", mode ",
    h("code", {}, mode), made ? "" : " (not made yet: the topic's first translation makes it)");

  if (!may.has("DESCRIBE")) {
    // the mode from the topic's configs, if the user may read them; the table's state needs DESCRIBE
    let known = false;
    const refresh = async () => {
      if (known || !may.has("DESCRIBE_CONFIGS")) return;
      try {
        const configs = (await v3(`/topics/${enc(topic)}/configs`)).data;
        const mode = (configs.find((c) => c.name === "iceberg.mode") || {}).value || "disabled";
        known = true;
        element.dataset.mode = mode;
        show(mode, modeLine(mode, true), notAllowed("The Iceberg table's state", "DESCRIBE", `topic ${topic}`));
      } catch { /* the configs section shows the error */ }
    };
    return { element, refresh };
  }

  const refresh = async () => {
    let t;
    try {
      t = await call(`/v1/topics/${enc(topic)}/iceberg`);
    } catch (err) {
      if (shown) replace(partsBox, errorBox(err));
      else show(null, h("p", { class: "muted" }, "Whether this topic is an Iceberg table is not known yet:"), errorBox(err));
      return;
    }
    element.dataset.mode = t.mode;
    warehouse = t.warehouse;
    if (t.mode === "disabled") { show("disabled"); return; }
    show(t.mode, modeLine(t.mode, t.table !== null),
      h("p", { class: "iceberg-snapshot" }, "Last snapshot: ", t.last_commit_ms === null || t.last_commit_ms === undefined
        ? h("span", { class: "muted" }, "no snapshot yet")
        : h("span", { title: `snapshot ${t.snapshot_id}` }, fmtTime(t.last_commit_ms)),
        ", committed by ", t.coordinator === null || t.coordinator === undefined
          ? h("span", { class: "muted" }, "no node now (its coordinator is being elected)")
          : h("span", { class: "iceberg-coordinator" }, `node ${t.coordinator}`)));
    replace(partsBox, table(`Iceberg translation of ${topic} (lag: committed records not yet in the table)`,
      [{ label: "Partition", num: true }, { label: "Translated offset", num: true }, { label: "Last stable offset", num: true },
        { label: "Lag", num: true }],
      t.partitions.map((p) => [p.partition_id,
        p.translated_offset === null || p.translated_offset === undefined ? h("span", { class: "muted" }, "none yet") : p.translated_offset,
        p.last_stable_offset ?? "–",
        p.lag === null || p.lag === undefined ? h("span", { class: "muted", title: "its leader is moving" }, "unknown")
          : h("span", { class: p.lag > 0 ? "warn" : "" }, p.lag)])));
  };
  return { element, refresh };
}

// DuckDB and pyiceberg reading the table through this node's catalog (a copy button where
// the browser offers the clipboard: a secure context). On an object store the readers
// bring their own credentials; the catalog tells them where the store is.
function querySnippets(topic, warehouse) {
  const endpoint = `${location.origin}/iceberg`;
  const s3 = warehouse === "s3";
  const duckdb = (s3 ? "CREATE SECRET (TYPE s3, KEY_ID '<access key id>', SECRET '<secret access key>');\n" : "")
    + `ATTACH 'kraft' AS k (TYPE iceberg, ENDPOINT '${endpoint}', AUTHORIZATION_TYPE 'none');\n`
    + `SELECT kafka.offset, kafka.key, value FROM k.kraft."${topic.replaceAll('"', '""')}" LIMIT 10;`;
  const python = "from pyiceberg.catalog.rest import RestCatalog\n"
    + `table = RestCatalog("kraft", uri=${JSON.stringify(endpoint)}).load_table(${JSON.stringify(`kraft.${topic}`)})\n`
    + "print(table.scan(limit=10).to_arrow())";
  const snippet = (label, cls, text) => {
    const out = h("span", { "aria-live": "polite" });
    let copy = null;
    if (navigator.clipboard) {
      copy = action("Copy", async () => { await navigator.clipboard.writeText(text); replace(out, " Copied."); }, { out });
      copy.setAttribute("aria-label", `Copy the ${label}`);
    }
    return [h("p", {}, label, copy ? [" ", copy, out] : null), h("pre", { class: `query ${cls}` }, text)];
  };
  return h("div", {}, h("h3", {}, "Query it"),
    h("p", { class: "muted" }, s3
      ? "Any node's catalog serves the table. Its files are in an S3 bucket: the readers fetch them with their own "
        + "credentials (pyiceberg from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and the catalog names the endpoint."
      : "Any node's catalog serves the table. The readers open its files by their file:// paths, "
        + "so run them on a host that sees the warehouse."),
    snippet("DuckDB query", "duckdb", duckdb), snippet("pyiceberg query", "pyiceberg", python));
}

async function loadConfigs(topic, box, mayAlter) {
  let configs;
  try { configs = (await v3(`/topics/${enc(topic)}/configs`)).data; } catch (err) { replace(box, errorBox(err)); return; }
  const rows = configs.sort((a, b) => a.name.localeCompare(b.name)).map((c) => {
    const source = c.is_default ? h("span", { class: "muted" }, `default (${c.source})`) : c.source;
    if (!mayAlter) return [h("code", {}, c.name), h("code", { class: "config-value" }, c.value ?? ""), source];
    const input = h("input", { value: c.value ?? "", "aria-label": `value of ${c.name}`, size: 14 });
    const out = h("span", { "aria-live": "polite" });
    const save = h("button", { type: "button" }, "Save");
    save.addEventListener("click", async () => {
      try {
        await v3(`/topics/${enc(topic)}/configs/${enc(c.name)}`, { method: "PUT", body: { value: input.value } });
        await loadConfigs(topic, box, mayAlter);
      } catch (err) { replace(out, errorBox(err)); }
    });
    const reset = c.source === "DYNAMIC_TOPIC_CONFIG" ? h("button", {
      type: "button",
      onclick: async () => {
        try { await v3(`/topics/${enc(topic)}/configs/${enc(c.name)}`, { method: "DELETE" }); await loadConfigs(topic, box, mayAlter); } catch (err) { replace(out, errorBox(err)); }
      },
    }, "Reset to default") : null;
    return [h("code", {}, c.name), input, source, [save, " ", reset, out]];
  });
  replace(box, mayAlter ? null : notAllowed("Editing configs", "ALTER_CONFIGS", `topic ${topic}`),
    table(`Configs of ${topic} (Kafka's names; a value set on the topic overrides the default)`,
      [{ label: "Name" }, { label: "Value" }, { label: "Source" }].concat(mayAlter ? [{ label: "" }] : []), rows));
}

// Every partition by default (newest first across them, each message naming its
// partition); the selector narrows it to one. `reload` reads again with the same choices.
function messageBrowser(topic, partitions) {
  const partition = h("select", { id: "browse-partition" }, h("option", { value: "all" }, `all ${partitions} partitions`),
    Array.from({ length: partitions }, (_, i) => h("option", { value: i }, `partition ${i}`)));
  const mode = h("select", { id: "browse-mode" }, h("option", { value: "newest" }, "newest first"), h("option", { value: "offset" }, "from offset"),
    h("option", { value: "timestamp" }, "from time"));
  const offset = h("input", { id: "browse-offset", type: "number", min: 0, value: 0, size: 8 });
  const when = h("input", { id: "browse-time", type: "datetime-local", step: 1 });
  const count = h("input", { id: "browse-count", type: "number", min: 1, max: 200, value: 20, size: 4 });
  const binaryAs = h("select", { id: "browse-binary" }, h("option", { value: "hex" }, "hex"), h("option", { value: "base64" }, "base64"));
  const list = h("div", { id: "messages", "aria-live": "polite" });
  const form = h("form", { class: "inline", "aria-label": "Browse messages" }, field("Partition", partition), field("Show", mode),
    field("Offset", offset), field("Time (your local time)", when), field("How many", count), field("Binary as", binaryAs),
    h("button", { type: "submit", class: "primary" }, "Load messages"));
  let latest = 0; // only the last load asked for fills the list (an earlier one may answer later)
  const load = async () => {
    const mine = ++latest;
    replace(list, h("p", { class: "muted" }, "Reading…"));
    let shown;
    try {
      const which = partition.value === "all" ? Array.from({ length: partitions }, (_, i) => i) : [Number(partition.value)];
      const records = await browseAll(topic, which, mode.value, Number(offset.value), when.value, Math.min(200, Number(count.value) || 20));
      const framed = await decodeFramed(records.flatMap((r) => [r.key, r.value])); // schema-framed keys and values
      shown = records.length ? records.map((r, i) => message(r, binaryAs.value, framed[2 * i], framed[2 * i + 1]))
        : h("p", { class: "muted" }, which.length > 1 ? `No messages in any of the ${which.length} partitions there.` : `No messages in partition ${which[0]} there.`);
    } catch (err) { shown = errorBox(err); }
    if (mine === latest) replace(list, shown);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load(); // the newest messages of every partition show as the page opens
  return { element: h("div", {}, form, list), reload: load };
}

// The records of the partitions asked for, merged: newest first (by time, then partition and
// offset) for "newest", oldest first otherwise; at most `count` in all.
async function browseAll(topic, which, mode, fromOffset, when, count) {
  const parts = [];
  for (let i = 0; i < which.length; i += 8) { // 8 partitions read at a time
    parts.push(...await Promise.all(which.slice(i, i + 8).map((p) => browse(topic, p, mode, fromOffset, when, count))));
  }
  const all = parts.flat();
  const newest = mode === "newest";
  all.sort((a, b) => (newest ? -1 : 1) * ((a.timestamp - b.timestamp) || (a.partition - b.partition) || (a.offset - b.offset)));
  return all.slice(0, count);
}

async function browse(topic, p, mode, fromOffset, when, count) {
  const base = `/topics/${enc(topic)}/partitions/${p}`;
  const ends = await call(`${base}/offsets`);
  let start = fromOffset;
  if (mode === "newest") start = Math.max(ends.beginning_offset, ends.end_offset - count);
  if (mode === "timestamp") {
    if (!when) throw Object.assign(new Error("Choose a time first."), { status: 0, code: 0, hint: "" });
    const found = await call(`${base}/offsets?timestamp=${new Date(when).getTime()}`);
    if (found.offset === null) return [];
    start = found.offset;
  }
  start = Math.max(start, ends.beginning_offset);
  const out = [];
  // bounded: at most `count` records and 10 reads
  for (let round = 0; round < 10 && out.length < count && start < ends.end_offset; round++) {
    const batch = await call(`${base}/records?offset=${start}&timeout=200&max_bytes=1048576`, { headers: { Accept: BINARY } });
    if (!batch.length) break;
    out.push(...batch);
    start = batch[batch.length - 1].offset + 1;
  }
  return out.slice(0, count).map((r) => ({ ...r, partition: r.partition ?? p }));
}

function message(r, binaryAs, framedKey, framedValue) {
  const headers = (r.headers || []).map((x) => {
    const v = showBytes(x.value, binaryAs);
    return h("li", {}, h("code", {}, x.name), ": ", h("code", {}, v.text), v.kind === "hex" || v.kind === "base64" ? ` (${v.kind})` : "");
  });
  return h("article", { class: "msg", "aria-label": `message at partition ${r.partition} offset ${r.offset}` },
    h("header", {}, h("span", { class: "partition" }, `partition ${r.partition}`), h("span", { class: "offset" }, `offset ${r.offset}`), h("span", {}, fmtTime(r.timestamp))),
    h("div", { class: "kv" },
      part("key", r.key, framedKey, binaryAs), part("value", r.value, framedValue, binaryAs),
      h("span", { class: "muted" }, "headers"), headers.length ? h("ul", { class: "headers", style: "margin:0;padding-left:1.2em" }, headers) : h("span", { class: "muted" }, "none")));
}

// A key or value: as bytes, or (framed with a schema id) decoded with its schema.
function part(name, b64, framed, binaryAs) {
  if (!framed) {
    const shown = showBytes(b64, binaryAs);
    return [h("span", { class: "muted" }, `${name} (${shown.kind})`), h("pre", { class: name }, shown.text)];
  }
  const label = h("span", { class: "muted" }, `${name} (${(framed.schema_type || "framed").toLowerCase()})`);
  const holders = (framed.subjects || []).map((s) => h("a", { href: `#/schemas/${enc(s.subject)}` }, `${s.subject} v${s.version}`));
  const about = h("div", { class: "muted framed" }, `schema id ${framed.schema_id}`,
    holders.length ? [": ", holders.flatMap((a, i) => (i ? [", ", a] : [a]))] : null, framed.message ? `, message ${framed.message}` : null);
  if (framed.error !== undefined) {
    return [label, h("div", {}, about, h("p", { class: "warn framed-error" }, `Not decoded: ${framed.error}`),
      h("pre", { class: name }, showBytes(b64, binaryAs).text))];
  }
  return [label, h("div", {}, about, h("pre", { class: `${name} decoded` }, JSON.stringify(framed.data, null, 2)))];
}

function produceForm(topic, partitions, produced) {
  const partition = h("select", { id: "produce-partition" }, h("option", { value: "" }, "by key (default partitioner)"),
    Array.from({ length: partitions }, (_, i) => h("option", { value: i }, `partition ${i}`)));
  const type = h("select", { id: "produce-type" }, h("option", { value: "STRING" }, "text"), h("option", { value: "JSON" }, "JSON"),
    h("option", { value: "BINARY" }, "binary (base64)"));
  const key = h("input", { id: "produce-key", placeholder: "none" });
  const value = h("textarea", { id: "produce-value", rows: 3 });
  const headers = h("textarea", { id: "produce-headers", rows: 2, placeholder: "name=value (one per line)" });
  const out = h("div", { id: "produce-result", "aria-live": "polite" });
  const form = h("form", { "aria-label": "Produce a message" },
    h("div", { class: "inline" }, field("Partition", partition), field("Format", type), field("Key", key)),
    field("Value", value), field("Headers", headers),
    h("p", {}, h("button", { type: "submit", class: "primary" }, "Produce")), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    try {
      const data = (text) => (type.value === "JSON" ? JSON.parse(text) : text);
      if (partition.value !== "") body.partition_id = Number(partition.value);
      if (key.value) body.key = { type: type.value, data: data(key.value) };
      body.value = { type: type.value, data: data(value.value) };
    } catch (err) {
      replace(out, h("div", { class: "error", role: "alert" }, `Not JSON: ${err.message}`));
      return;
    }
    const lines = headers.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines.length) body.headers = lines.map((l) => ({ name: l.split("=")[0].trim(), value: textToB64(l.slice(l.indexOf("=") + 1).trim()) }));
    try {
      const report = await v3(`/topics/${enc(topic)}/records`, { method: "POST", body });
      const r = Array.isArray(report) ? report[0] : report;
      if (r.error_code && r.error_code !== 200) throw Object.assign(new Error(r.message), { status: r.error_code, code: r.error_code });
      replace(out, h("p", { class: "notice", role: "status" }, `Written to partition ${r.partition_id} at offset ${r.offset}.`));
      produced();
    } catch (err) { replace(out, errorBox(err)); }
  });
  return form;
}
