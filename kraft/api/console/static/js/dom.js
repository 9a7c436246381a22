// Building the page: elements from data (text is always text, never HTML).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") setStyle(el, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

// Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
function setStyle(el, text) {
  for (const rule of text.split(";")) {
    const at = rule.indexOf(":");
    if (at > 0) el.style.setProperty(rule.slice(0, at).trim(), rule.slice(at + 1).trim());
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A table: columns [{label, num?}] and rows of cells (nodes or text).
export function table(caption, columns, rows, empty = "None.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" }, h("table", {},
    h("caption", { class: "muted", style: "text-align:left" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell, i) => h("td", { class: columns[i] && columns[i].num ? "num" : null }, cell)))))));
}

// The API's error, with what to do about it.
export function errorBox(err) {
  const code = err.code && err.code !== err.status ? ` (${err.code})` : "";
  const status = err.status ? `HTTP ${err.status}${code}: ` : "";
  return h("div", { class: "error", role: "alert" }, h("strong", {}, status), err.message,
    err.hint ? h("div", {}, err.hint) : null);
}

// In place of a control the user's ACLs do not allow: says what it would need.
export function notAllowed(what, operation, resource) {
  return h("p", { class: "muted not-allowed" }, `${what} is not offered: your user may not ${operation} ${resource} (ACLs; a super user can grant it on the Security page).`);
}

export function pill(text, cls) { return h("span", { class: `pill ${cls}` }, text); }

export function stat(label, value, cls = "") {
  return h("div", { class: `stat ${cls}` }, h("b", {}, String(value)), label);
}

export function field(label, input) { return h("label", {}, label, input); }

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtTime(ms) {
  return ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

// A yes/no question in the page's <dialog>; resolves true on confirm.
export function confirmDialog(text, okLabel = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

// A button whose action's outcome (the API's answer or error) shows next to it.
export function action(label, run, { cls = "", out } = {}) {
  const button = h("button", { type: "button", class: cls });
  button.textContent = label;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await run(); } catch (err) { if (out) replace(out, errorBox(err)); else throw err; } finally { button.disabled = false; }
  });
  return button;
}
