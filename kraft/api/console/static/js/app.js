// The console's shell: hash routes to pages, the signed-in user, and every node's health.
import { call, cluster, forgetCluster, signIn, signOut, signedInAs, v3 } from "./api.js";
import { errorBox, field, h, replace } from "./dom.js";
import * as overview from "./pages/overview.js";
import * as topics from "./pages/topics.js";
import * as topic from "./pages/topic.js";
import * as groups from "./pages/groups.js";
import * as group from "./pages/group.js";
import * as shareGroup from "./pages/share_group.js";
import * as schemas from "./pages/schemas.js";
import * as subject from "./pages/subject.js";
import * as security from "./pages/security.js";
import * as lab from "./pages/lab.js";

const ROUTES = [
  [/^\/overview$/, overview, "overview"],
  [/^\/topics$/, topics, "topics"],
  [/^\/topics\/(.+)$/, topic, "topics"],
  [/^\/groups$/, groups, "groups"],
  [/^\/groups\/(.+)$/, group, "groups"],
  [/^\/share-groups\/(.+)$/, shareGroup, "groups"],
  [/^\/schemas$/, schemas, "schemas"],
  [/^\/schemas\/(.+)$/, subject, "schemas"],
  [/^\/security$/, security, "security"],
  [/^\/lab$/, lab, "lab"],
  [/^\/signin$/, { render: renderSignIn }, null],
];
const NODE_POLL_MS = 5000;
let current = null; // the page shown: its timers stop when another replaces it

function pageContext(main) {
  const timers = [];
  const ctx = {
    main,
    live: true,
    // fn now and every ms while this page is shown (one call at a time)
    every(ms, fn) {
      let busy = false;
      const tick = async () => {
        if (!ctx.live || busy) return;
        busy = true;
        try { await fn(); } finally { busy = false; }
      };
      timers.push(setInterval(tick, ms));
      return tick();
    },
    leave() { ctx.live = false; timers.forEach(clearInterval); },
  };
  return ctx;
}

async function route() {
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/overview";
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found) { location.hash = "#/overview"; return; }
  const [re, page, nav] = found;
  const params = path.match(re).slice(1);
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (current) current.leave();
  forgetCluster(); // each page asks afresh what the user may do (ACLs change)
  const main = document.getElementById("main");
  replace(main, h("p", { class: "muted" }, "Loading…"));
  const ctx = current = pageContext(main);
  ctx.params = params;
  try {
    await page.render(ctx);
  } catch (err) {
    if (ctx.live) replace(main, h("h1", {}, "Could not show this page"), errorBox(err));
  }
  // focus (for screen readers and Tab) without scrolling: the page may already be scrolled to where the user wants it
  if (ctx.live && document.activeElement === document.body) main.focus({ preventScroll: true });
}

function renderSignIn(ctx) {
  const user = h("input", { name: "user", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "inline", "aria-label": "Sign in" }, field("User", user), field("Password", password),
    h("button", { type: "submit", class: "primary" }, "Sign in"), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    signIn(user.value, password.value);
    forgetCluster();
    try {
      await call("/v3/clusters");
      showWho();
      location.hash = "#/overview";
    } catch (err) {
      signOut();
      replace(out, errorBox(err));
    }
  });
  replace(ctx.main, h("h1", {}, "Sign in"),
    h("p", {}, "This cluster asks for a user (HTTP Basic over the same API). What you see is what your ACLs allow."),
    form);
  user.focus();
}

function showWho() {
  const who = document.getElementById("who");
  const user = signedInAs();
  if (user) {
    replace(who, h("span", {}, `Signed in as ${user}`), h("button", {
      type: "button", onclick: () => { signOut(); forgetCluster(); showWho(); location.hash = "#/signin"; },
    }, "Sign out"));
  } else {
    replace(who, h("a", { href: "#/signin" }, "Sign in"));
  }
}

// cluster.toml's name for the cluster (what its operators call it); the id on hover
function showCluster(c) {
  const el = document.getElementById("cluster-name");
  el.textContent = c.cluster_name || c.cluster_id;
  el.title = `cluster id ${c.cluster_id}`;
  document.title = `${el.textContent} · kraft console`;
}

// Every broker's /status/ready (an open endpoint): a dead or slow node shows in the bar.
async function watchNodes() {
  const bar = document.getElementById("node-status");
  let brokers = [];
  try {
    brokers = (await v3("/brokers")).data;
    showCluster(await cluster());
  } catch (err) {
    if (err.status === 0) { replace(bar, `This node (${location.host}) does not answer: it may be down or slow. Retrying…`); return; }
    replace(bar, ""); return;
  }
  const problems = [];
  await Promise.all(brokers.map(async (b) => {
    const base = `${location.protocol}//${b.host}:${b.port}`;
    if (b.fenced) problems.push(`broker ${b.broker_id} is fenced`);
    try {
      await call("/status/ready", { base: base === location.origin ? "" : base, timeout: 3000, auth: false });
    } catch (err) {
      problems.push(err.status === 0 ? `node ${b.broker_id} (${b.host}:${b.port}) does not answer: down or slow`
        : `node ${b.broker_id} is not ready: ${err.message}`);
    }
  }));
  replace(bar, problems.length ? `⚠ ${problems.sort().join("; ")}` : "");
}

async function start() {
  showWho();
  try {
    await call("/v3/clusters");
  } catch (err) {
    if (err.status === 401 && !location.hash.startsWith("#/signin")) location.hash = "#/signin";
  }
  window.addEventListener("hashchange", route);
  await route();
  watchNodes();
  setInterval(watchNodes, NODE_POLL_MS);
}

start();
