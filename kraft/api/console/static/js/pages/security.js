// Security: users and ACLs (each needs DESCRIBE / ALTER on the cluster; a 403 says so).
import { call, cluster, enc, opsOf, v3 } from "../api.js";
import { action, confirmDialog, errorBox, field, h, notAllowed, replace, table } from "../dom.js";

const OPERATIONS = ["ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CLUSTER_ACTION"];
const RESOURCES = ["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "SUBJECT"];

export async function render(ctx) {
  const usersBox = h("div", {});
  const aclsBox = h("div", {});
  const out = h("div", { "aria-live": "polite" });
  const c = await cluster().catch(() => ({}));
  const secured = c.security_enabled !== false;
  // users and ACLs change with ALTER on the cluster; without [security] nothing checks them
  const may = secured && opsOf(c).has("ALTER");
  const users = () => loadUsers(usersBox, out, may);
  const acls = () => loadAcls(aclsBox, out, may);
  const unchecked = (what) => h("p", { class: "muted not-allowed" }, `${what} is not offered: security is off on this cluster.`);
  replace(ctx.main, h("h1", {}, "Security"),
    secured ? h("p", { class: "muted" }, "Users sign in with HTTP Basic (SASL on the Kafka port); ACLs follow Kafka's model.")
      : h("p", { class: "notice", id: "security-off" }, "Security is off: cluster.toml has no [security] table, so no client signs in and every client may do anything (as Kafka's PLAINTEXT listener without an authorizer). Users and ACLs take effect only once [security] is turned on (docs/API.md, \"Security\")."),
    out,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "h-users" }, h("h2", { id: "h-users" }, "Users"), usersBox,
        may ? userForm(out, users) : secured ? notAllowed("Adding and deleting users", "ALTER", "the cluster") : unchecked("Adding users")),
      h("section", { class: "card", "aria-labelledby": "h-acls" }, h("h2", { id: "h-acls" }, "ACLs"), aclsBox,
        may ? aclForm(out, acls) : secured ? notAllowed("Adding and deleting ACLs", "ALTER", "the cluster") : unchecked("Adding ACLs"))));
  await Promise.all([users(), acls()]);
}

async function loadUsers(box, out, may) {
  try {
    const users = await call("/v1/security/users");
    replace(box, table("Users", [{ label: "User" }, { label: "Mechanisms" }, { label: "" }],
      users.map((u) => [u.name, (u.mechanisms || []).join(", "), !may ? "" : action("Delete", async () => {
        if (!(await confirmDialog(`Delete user ${u.name}? Their clients are refused from then on.`))) return;
        await call(`/v1/security/users/${enc(u.name)}`, { method: "DELETE" });
        await loadUsers(box, out, may);
      }, { out, cls: "danger" })]), "No users (security is off, or none were added)."));
  } catch (err) { replace(box, errorBox(err)); }
}

function userForm(out, reload) {
  const name = h("input", { required: true, autocomplete: "off" });
  const password = h("input", { type: "password", required: true, autocomplete: "new-password" });
  const mechanism = h("select", {}, h("option", {}, "SCRAM-SHA-256"), h("option", {}, "SCRAM-SHA-512"));
  const form = h("form", { class: "inline", "aria-label": "Add a user" }, field("New user", name), field("Password", password),
    field("Mechanism", mechanism), h("button", { type: "submit" }, "Add user"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await call("/v1/security/users", { method: "POST", body: { username: name.value, password: password.value, algorithm: mechanism.value } });
      replace(out, h("p", { class: "notice", role: "status" }, `Added user ${name.value}.`));
      form.reset();
      await reload();
    } catch (err) { replace(out, errorBox(err)); }
  });
  return form;
}

async function loadAcls(box, out, may) {
  try {
    const acls = (await v3("/acls")).data;
    replace(box, table("ACL bindings", [{ label: "Principal" }, { label: "Host" }, { label: "Resource" }, { label: "Pattern" },
      { label: "Operation" }, { label: "Permission" }, { label: "" }],
    acls.map((a) => [a.principal, a.host, `${a.resource_type} ${a.resource_name}`, a.pattern_type, a.operation, a.permission,
      !may ? "" : action("Delete", async () => {
        if (!(await confirmDialog(`Delete the ACL ${a.permission} ${a.principal} ${a.operation} on ${a.resource_type} ${a.resource_name}?`))) return;
        const q = new URLSearchParams({ resource_type: a.resource_type, resource_name: a.resource_name, pattern_type: a.pattern_type,
          principal: a.principal, host: a.host, operation: a.operation, permission: a.permission });
        await v3(`/acls?${q}`, { method: "DELETE" });
        await loadAcls(box, out, may);
      }, { out, cls: "danger" })]), "No ACLs."));
  } catch (err) { replace(box, errorBox(err)); }
}

function aclForm(out, reload) {
  const principal = h("input", { required: true, placeholder: "User:alice" });
  const resourceType = h("select", {}, RESOURCES.map((r) => h("option", {}, r)));
  const resourceName = h("input", { required: true, placeholder: "orders or *" });
  const pattern = h("select", {}, h("option", {}, "LITERAL"), h("option", {}, "PREFIXED"));
  const operation = h("select", {}, OPERATIONS.map((o) => h("option", {}, o)));
  const permission = h("select", {}, h("option", {}, "ALLOW"), h("option", {}, "DENY"));
  const form = h("form", { class: "inline", "aria-label": "Add an ACL" }, field("Principal", principal), field("Resource type", resourceType),
    field("Resource name", resourceName), field("Pattern", pattern), field("Operation", operation), field("Permission", permission),
    h("button", { type: "submit" }, "Add ACL"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await v3("/acls", { method: "POST", body: { principal: principal.value, host: "*", resource_type: resourceType.value,
        resource_name: resourceName.value, pattern_type: pattern.value, operation: operation.value, permission: permission.value } });
      replace(out, h("p", { class: "notice", role: "status" }, "ACL added."));
      await reload();
    } catch (err) { replace(out, errorBox(err)); }
  });
  return form;
}
