// The schema registry, as its clients call it: Confluent's API on this node's
// schema_registry_port (same host the page came from; the registry lets the cluster's own
// console origins in), and framed keys and values decoded by this node (/v1/console/decode).
import { ApiError, call } from "./api.js";

export const LEVELS = ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"];

let basePromise = null;

// {base, reason}: the registry's origin, or null and why this node has none.
export function registryBase() {
  if (!basePromise) {
    basePromise = call("/v1/console/schema-registry").then((r) => ({
      base: r.port ? `${location.protocol}//${location.hostname}:${r.port}` : null, reason: r.reason,
    })).catch((e) => { basePromise = null; throw e; });
  }
  return basePromise;
}

// A call to the registry's API: its answers and its errors ({error_code, message}) as ApiError.
export async function sr(path, options = {}) {
  const { base, reason } = await registryBase();
  if (!base) throw new ApiError(404, 404, `No schema registry: ${reason}.`, path);
  return call(path, { ...options, base });
}

// Base64 of Confluent's framing: magic byte 0, then a 4-byte schema id.
export function isFramed(b64) {
  if (!b64 || b64.length < 8) return false;
  const head = atob(b64.slice(0, 8));
  return head.charCodeAt(0) === 0 && head.length >= 5;
}

// values (base64 or null) -> what the node says of each framed one (null for the others);
// {error} for all of them when it cannot say.
export async function decodeFramed(values) {
  const framed = values.map(isFramed);
  if (!framed.some(Boolean)) return values.map(() => null);
  try {
    const answer = await call("/v1/console/decode", { method: "POST", body: { values: values.map((v, i) => (framed[i] ? v : null)) } });
    return answer.values;
  } catch (err) {
    return values.map((v, i) => (framed[i] ? { schema_id: schemaIdOf(v), error: err.message } : null));
  }
}

function schemaIdOf(b64) {
  const head = atob(b64.slice(0, 8));
  return ((head.charCodeAt(1) << 24) >>> 0) + (head.charCodeAt(2) << 16) + (head.charCodeAt(3) << 8) + head.charCodeAt(4);
}

// A schema's text as people read it: JSON (Avro, JSON Schema) indented, .proto as it is.
export function readable(schemaType, text) {
  if (schemaType === "PROTOBUF") return text;
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
