"""Scenario reports: a JSON file with everything, and one self-contained HTML page.

The HTML shows the verdict table and a timeline a person can read: faults as bars,
the leader of each partition over time (one colour per broker, grey when offline),
the ISR size, acknowledged writes per second and errors per second.
"""

from __future__ import annotations

import html
import json
import shutil
from collections import Counter
from pathlib import Path

from kraft.scenario.history import OK
from kraft.config.scenarios import UNDO_KINDS

COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948",
           "#ff9da7", "#9c755f"]
WIDTH, LANE, LEFT = 1000, 22, 150


def write_reports(result, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    name = result.scenario.name
    jepsen = result.jepsen
    history_file = None
    if result.history_path is not None:  # a Jepsen workload's history, beside the reports
        history_file = directory / f"{name}.history.jsonl"
        if result.history_path.resolve() != history_file.resolve():
            shutil.copyfile(result.history_path, history_file)
    data = {
        "scenario": result.scenario.model_dump(mode="json"),
        "passed": result.passed,
        "skipped": result.skipped,
        # a Jepsen workload: completed ops per second, and Jepsen's anomalies found
        # (name -> count, {} when clean); null for the other workloads
        "ops_per_second": result.facts.get("ops_per_second"),
        "anomalies": jepsen.anomalies() if jepsen is not None else None,
        "history_file": str(history_file) if history_file else None,
        "jepsen": jepsen.to_json() if jepsen is not None else None,
        "facts": result.facts,
        "verdict": [r.__dict__ for r in result.verdict.rows] if result.verdict else [],
        "checks": [c.__dict__ for c in result.checks],
        "history": result.history.to_json() if result.history else None,
    }
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(data, indent=1, default=str))
    html_path = directory / f"{name}.html"
    html_path.write_text(render_html(result))
    return json_path, html_path


def render_html(result) -> str:
    s = result.scenario
    e = html.escape
    rows = "".join(
        f"<tr class={'ok' if r.ok else 'bad'}><td>{e(r.name)}</td><td>{e(r.expected)}</td>"
        f"<td>{e(r.actual)}</td><td>{'✔' if r.ok else '✘'}</td><td>{e(r.summary)}</td></tr>"
        for r in (result.verdict.rows if result.verdict else []))
    facts = "".join(f"<li>{e(k)}: {e(str(v))}</li>" for k, v in result.facts.items())
    status = "SKIPPED: " + result.skipped if result.skipped else ("PASS" if result.passed else "FAIL")
    timeline = _timeline_svg(result.history, result.facts.get("ops_timeline")) if result.history else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>kraft scenario {e(s.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}} tr.ok td:nth-child(4){{color:green}}
tr.bad{{background:#fdd}} .status{{font-size:1.4em;font-weight:bold}}</style></head><body>
<h1>Scenario {e(s.name)}</h1><p>{e(s.description)}</p>
<p class="status">{e(status)}</p>
<h2>Verdict</h2><table><tr><th>check</th><th>expected</th><th>actual</th><th></th><th>details</th></tr>{rows}</table>
{_jepsen_html(result.jepsen)}
<h2>Timeline</h2>{timeline}
<h2>Facts</h2><ul>{facts}</ul>
<p>Settings: acks={e(s.workload.acks)}, topic {e(s.topic.name)} with {s.topic.partitions} partition(s),
RF {s.topic.replication_factor}, configs {e(json.dumps(s.topic.configs))}.</p></body></html>"""


def _jepsen_html(report) -> str:
    """Jepsen's checks: each anomaly (or allowed case) found, with its simplest example."""
    if report is None:
        return ""
    e = html.escape
    rows = []
    for f in report.findings:
        if not f.count:
            continue
        failing = len(f.failing(report.strict))
        ex = f.example(report.strict)
        rows.append(f"<tr class={'bad' if failing else 'ok'}><td>{e(f.name)}</td><td>{f.count}</td>"
                    f"<td>{'FAIL' if failing else 'allowed'}</td><td>{e(ex.text if ex else '')}<br>"
                    f"<small>ops {e(', '.join(map(str, ex.ops if ex else [])))}; {e(f.definition)}</small></td></tr>")
    body = "".join(rows) or "<tr><td colspan=4>no anomaly found</td></tr>"
    return (f"<h2>Jepsen's checks</h2><p>{e(str(report.stats.get('ops', 0)))} ops checked; "
            f"anomalies: {e(json.dumps(report.anomalies()))}</p><table><tr><th>anomaly</th><th>cases</th>"
            f"<th></th><th>simplest example (ops are history indexes)</th></tr>{body}</table>")


def _timeline_svg(h, ops_timeline: dict | None = None) -> str:
    """ops_timeline (a Jepsen workload's): second -> [ok, fail or info, mean ms, max ms]."""
    end = max([w.complete_ms or w.invoke_ms for w in h.writes] + [s.time_ms for s in h.samples]
              + [f.time_ms for f in h.faults] + [1000.0])
    x = lambda t: LEFT + (WIDTH - LEFT - 10) * t / end  # noqa: E731
    parts, y = [], 10
    # faults
    parts.append(_label(y, "faults"))
    for f in h.faults:
        colour = "#2a9d8f" if f.kind in UNDO_KINDS else "#e63946"
        parts.append(f'<line x1="{x(f.time_ms):.1f}" y1="{y}" x2="{x(f.time_ms):.1f}" y2="{y + LANE}" '
                     f'stroke="{colour}" stroke-width="3"><title>{html.escape(f.kind)} '
                     f'{f.target} {html.escape(f.detail)} at {f.time_ms / 1000:.1f}s</title></line>')
    y += LANE + 6
    for p in range(h.partitions):
        samples = [s for s in h.samples if s.partition == p]
        parts.append(_label(y, f"leader p{p}"))
        for a, b in zip(samples, samples[1:] + samples[-1:]):
            colour = "#999" if a.leader is None else COLOURS[(a.leader - 1) % len(COLOURS)]
            parts.append(f'<rect x="{x(a.time_ms):.1f}" y="{y}" width="{max(1, x(b.time_ms) - x(a.time_ms)):.1f}" '
                         f'height="{LANE - 4}" fill="{colour}"><title>leader {a.leader} epoch '
                         f'{a.leader_epoch} isr {a.isr} hw {a.high_watermark}</title></rect>')
        y += LANE
        parts.append(_label(y, f"ISR size p{p}"))
        for s in samples:
            parts.append(f'<rect x="{x(s.time_ms):.1f}" y="{y + (LANE - 4) * (1 - len(s.isr) / 5):.1f}" '
                         f'width="3" height="{(LANE - 4) * len(s.isr) / 5:.1f}" fill="#555"/>')
        y += LANE + 6
    lanes = [("acked writes/s", _per_second(h, ok=True), "#2a9d8f"),
             ("errors/s", _per_second(h, ok=False), "#e63946")]
    if ops_timeline:  # Jepsen's ops: outcomes and latency against the faults above
        secs = {int(k): v for k, v in ops_timeline.items()}
        lanes += [("ops ok/s", {k: v[0] for k, v in secs.items()}, "#2a9d8f"),
                  ("ops fail+info/s", {k: v[1] for k, v in secs.items()}, "#e63946"),
                  ("op latency ms (mean)", {k: v[2] for k, v in secs.items()}, "#6c757d"),
                  ("op latency ms (max)", {k: v[3] for k, v in secs.items()}, "#adb5bd")]
    for title, series, colour in lanes:
        parts.append(_label(y, title))
        top = max(series.values(), default=1) or 1
        for sec, count in series.items():
            height = (LANE * 2 - 4) * count / top
            parts.append(f'<rect x="{x(sec * 1000):.1f}" y="{y + LANE * 2 - 4 - height:.1f}" width="'
                         f'{max(1, x(1000) - x(0) - 1):.1f}" height="{height:.1f}" fill="{colour}">'
                         f'<title>{sec}s: {count}</title></rect>')
        y += LANE * 2 + 6
    for t in range(0, int(end / 1000) + 1, max(1, int(end / 10000))):
        parts.append(f'<text x="{x(t * 1000):.1f}" y="{y + 12}" font-size="10">{t}s</text>')
    return f'<svg width="{WIDTH}" height="{y + 20}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def _label(y: int, text: str) -> str:
    return f'<text x="4" y="{y + 14}" font-size="12">{html.escape(text)}</text>'


def _per_second(h, ok: bool) -> dict[int, int]:
    c = Counter(int(w.complete_ms // 1000) for w in h.writes if w.complete_ms is not None
                and (w.outcome == OK) == ok)
    return dict(sorted(c.items()))
