// A small SVG line chart: series [{name, colour, points: [[x, y], ...]}], x in seconds.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
export const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"];

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

export function lineChart(title, series, { width = 640, height = 180, unit = "" } = {}) {
  const pad = { l: 52, r: 8, t: 8, b: 22 };
  const all = series.flatMap((x) => x.points);
  const xs = all.map((p) => p[0]);
  const x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs, x0 + 1) : 1;
  const y1 = Math.max(1, ...all.map((p) => p[1]));
  const X = (x) => pad.l + (width - pad.l - pad.r) * (x - x0) / (x1 - x0);
  const Y = (y) => height - pad.b - (height - pad.t - pad.b) * y / y1;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  for (const f of [0, 0.5, 1]) {
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: Y(y1 * f), y2: Y(y1 * f), stroke: "#e3e7ec" }));
    svg.append(s("text", { x: pad.l - 4, y: Y(y1 * f) + 4, "text-anchor": "end", "font-size": 10, fill: "#5b6573" },
      `${fmt(y1 * f)}${unit}`));
  }
  svg.append(s("text", { x: pad.l, y: height - 6, "font-size": 10, fill: "#5b6573" }, `${x0.toFixed(0)} s`));
  svg.append(s("text", { x: width - pad.r, y: height - 6, "font-size": 10, fill: "#5b6573", "text-anchor": "end" }, `${x1.toFixed(0)} s`));
  for (const line of series) {
    if (!line.points.length) continue;
    const d = line.points.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: line.colour, "stroke-width": 2 }));
  }
  const legend = h("div", { class: "legend" }, series.map((x) => h("span", { style: `--c:${x.colour}` },
    `${x.name}${x.points.length ? `: ${fmt(x.points[x.points.length - 1][1])}${unit}` : ""}`)));
  return h("figure", { class: "chart", style: "margin:0" }, h("figcaption", {}, title), svg, legend);
}

// Lanes of coloured spans over time (who led a partition): lanes [{name, spans: [{from, to, colour, label}]}].
export function laneChart(title, lanes, marks = [], { width = 640, lane = 18 } = {}) {
  const left = 70;
  const ends = lanes.flatMap((l) => l.spans.map((x) => x.to)).concat(marks.map((m) => m.at), [1]);
  const end = Math.max(...ends);
  const X = (t) => left + (width - left - 8) * t / end;
  const height = lanes.length * lane + 24;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  lanes.forEach((l, i) => {
    svg.append(s("text", { x: 2, y: i * lane + 13, "font-size": 11 }, l.name));
    for (const span of l.spans) {
      const r = s("rect", { x: X(span.from), y: i * lane + 2, width: Math.max(1, X(span.to) - X(span.from)), height: lane - 4, fill: span.colour });
      r.append(s("title", {}, span.label));
      svg.append(r);
    }
  });
  for (const m of marks) {
    const line = s("line", { x1: X(m.at), x2: X(m.at), y1: 0, y2: lanes.length * lane, stroke: m.colour, "stroke-width": 2 });
    line.append(s("title", {}, m.label));
    svg.append(line);
  }
  svg.append(s("text", { x: left, y: height - 6, "font-size": 10, fill: "#5b6573" }, "0 s"));
  svg.append(s("text", { x: width - 8, y: height - 6, "font-size": 10, fill: "#5b6573", "text-anchor": "end" }, `${end.toFixed(0)} s`));
  return h("figure", { class: "chart", style: "margin:0" }, h("figcaption", {}, title), svg);
}

function fmt(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1);
}
