// The public HTTP API, as a user's script would call it: same paths, same errors.
const TIMEOUT_MS = 8000;
const CREDENTIALS = "kraft.console.basic";

export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status; this.code = code; this.path = path;
  }
  // What the reader should know besides the API's own message.
  get hint() {
    if (this.status === 401) return "Sign in (top right) with a user of this cluster.";
    if (this.status === 403) return "Your user lacks the ACL this needs; a super user can grant it (Security page).";
    if (this.status === 0) return "The node did not answer: it may be down, slow or unreachable.";
    if (this.status >= 500) return "The cluster could not do it now; retrying may work.";
    return "";
  }
}

export function signedInAs() {
  const raw = sessionStorage.getItem(CREDENTIALS);
  return raw ? JSON.parse(raw).user : null;
}

export function signIn(user, password) {
  sessionStorage.setItem(CREDENTIALS, JSON.stringify({ user, token: btoa(unescape(encodeURIComponent(`${user}:${password}`))) }));
}

export function signOut() { sessionStorage.removeItem(CREDENTIALS); }

function authHeader() {
  const raw = sessionStorage.getItem(CREDENTIALS);
  return raw ? { Authorization: `Basic ${JSON.parse(raw).token}` } : {};
}

// fetch with the signed-in user's credentials and a time limit; JSON answers parsed,
// errors thrown as ApiError with the API's own message.
export async function call(path, { method = "GET", body, headers = {}, base = "", timeout = TIMEOUT_MS, text = false, auth = true } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeout);
  // same origin: no browser password prompt on a 401 (the console asks itself)
  const quiet = base ? {} : { "X-Requested-With": "XMLHttpRequest" };
  const init = { method, headers: { Accept: "application/json", ...quiet, ...(auth ? authHeader() : {}), ...headers }, signal: ctrl.signal };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    if (!init.headers["Content-Type"]) init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(base + path, init);
  } catch (err) {
    const why = err.name === "AbortError" ? `no answer within ${timeout / 1000} s` : "no connection";
    throw new ApiError(0, 0, `${method} ${path}: ${why}`, path);
  } finally {
    clearTimeout(timer);
  }
  const raw = await response.text();
  let data = raw;
  if (!text && raw && (response.headers.get("Content-Type") || "").includes("json")) {
    try { data = JSON.parse(raw); } catch { data = raw; }
  }
  if (!response.ok) {
    const message = data && data.message ? data.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, data && data.error_code ? data.error_code : response.status, message, path);
  }
  return data;
}

// KIP-430 over v3: what the signed-in user may do on a resource (Kafka's operation names)
export const WITH_OPS = "include_authorized_operations=true";

let clusterPromise = null;
export function cluster() {
  if (!clusterPromise) {
    clusterPromise = call(`/v3/clusters?${WITH_OPS}`).then((d) => d.data[0]).catch((e) => { clusterPromise = null; throw e; });
  }
  return clusterPromise;
}

// The operations a v3 resource's authorized_operations allow, as a Set.
export function opsOf(resource) { return new Set(resource.authorized_operations || []); }
export function forgetCluster() { clusterPromise = null; }

export async function v3(path, options) {
  const c = await cluster();
  return call(`/v3/clusters/${encodeURIComponent(c.cluster_id)}${path}`, options);
}

export const enc = encodeURIComponent;

// Prometheus text -> {name: value} for the unlabelled samples (enough for the counters used here).
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([^\s]+)/.exec(line);
    if (m && !m[2]) out[m[1]] = Number(m[3]);
  }
  return out;
}

// base64 <-> bytes, and how to show bytes: JSON pretty, text, or hex/base64 when binary.
export function b64ToBytes(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
export function textToB64(text) { return btoa(unescape(encodeURIComponent(text))); }
export function showBytes(b64, binaryAs = "hex") {
  if (b64 === null || b64 === undefined) return { kind: "null", text: "null" };
  const bytes = b64ToBytes(b64);
  let text;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch { text = null; }
  if (text !== null && !/[\x00-\x08\x0e-\x1f]/.test(text)) {
    try { return { kind: "json", text: JSON.stringify(JSON.parse(text), null, 2) }; } catch { /* plain text */ }
    return { kind: "text", text };
  }
  if (binaryAs === "base64") return { kind: "base64", text: b64 };
  return { kind: "hex", text: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ") };
}
