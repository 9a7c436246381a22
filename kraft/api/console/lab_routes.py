"""The failure lab's HTTP API (`/v1/lab/...`, docs/API.md): the scenario library, one
run at a time on a throwaway cluster (lab_runs.py), its live events and its reports."""

from __future__ import annotations

from aiohttp import web

from kraft.api.authorized_operations import is_super_user
from kraft.api.context import NODE_KEY
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.api.console.lab_runs import LabRuns
from kraft.api.console.lab_library import scenario_needs, scenario_takes
from kraft.errors import BadRequest, InvalidValue
from kraft.config.scenarios import UNDO_KINDS, ScenarioError, builtin_names, load_scenario

LAB_KEY = web.AppKey("lab_runs", LabRuns)
MAX_DURATION_S = 3600.0
RUNS = "/v1/lab/runs"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/lab/scenarios", list_scenarios)
    r.add_get(RUNS, list_runs)
    r.add_post(RUNS, start_run)
    r.add_get(RUNS + "/{run_id}", get_run)
    r.add_delete(RUNS + "/{run_id}", stop_run)
    r.add_get(RUNS + "/{run_id}/report.html", report_html)
    r.add_get(RUNS + "/{run_id}/report.json", report_json)
    r.add_get(RUNS + "/{run_id}/output", run_output)
    node = app[NODE_KEY]
    app[LAB_KEY] = LabRuns(lambda: node.config.node(node.node_id).data_path / "lab")
    app.on_cleanup.append(_close)  # the node's shutdown stops a run


async def _close(app: web.Application) -> None:
    lab = app.get(LAB_KEY)
    if lab is not None:
        await lab.close()


def _lab(request: web.Request) -> LabRuns:
    return request.app[LAB_KEY]


async def list_scenarios(request):
    """The built-in scenario library, whether the caller may start a run (a super user), and
    which timeline events end a fault (the verdict's rule, for the console's timeline)."""
    out = []
    for name in builtin_names():
        s = load_scenario(name)
        out.append({"name": name, "description": s.description, "duration": s.workload.duration,
                    "nodes": s.cluster.nodes, "faults": [f.fault for f in s.faults],
                    "needs": scenario_needs(s), "takes": scenario_takes(s)})
    return json_response({"scenarios": out, "may_start_runs": is_super_user(request),
                          "fault_end_kinds": list(UNDO_KINDS)})


async def list_runs(request):
    """Past and current runs, newest first."""
    return json_response({"runs": _lab(request).list_runs()})


async def start_run(request):
    """Start a scenario on a throwaway cluster (one run at a time)."""
    body = await read_json_object(request)
    reject_unknown_fields(body, {"scenario", "duration", "seed"})
    name = body.get("scenario")
    if not isinstance(name, str) or name not in builtin_names():
        raise InvalidValue(f"scenario must name a built-in scenario (GET /v1/lab/scenarios), got {name!r}")
    duration = body.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not 1 <= duration <= MAX_DURATION_S):
        raise InvalidValue(f"duration is seconds of faults, 1 to {MAX_DURATION_S:.0f}, got {duration!r}")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InvalidValue(f"seed is an integer 0 to 2^31-1, got {seed!r}")
    try:
        load_scenario(name)
    except ScenarioError as exc:
        raise InvalidValue(str(exc)) from None
    return json_response(_lab(request).start(name, None if duration is None else float(duration), seed), 201)


async def get_run(request):
    """A run's state; with ?since=N also its live events from index N on."""
    raw = request.query.get("since")
    since = None
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()):
            raise BadRequest(f"since is an event index (0 or more), got {raw!r}")
        since = int(raw)
    return json_response(_lab(request).describe(request.match_info["run_id"], since))


async def stop_run(request):
    """Stop a running scenario (its throwaway cluster is torn down)."""
    return json_response(await _lab(request).stop(request.match_info["run_id"]))


async def report_html(request):
    """The run's HTML report."""
    path = _lab(request).report_file(request.match_info["run_id"], "html")
    return web.Response(body=path.read_bytes(), content_type="text/html", charset="utf-8")


async def report_json(request):
    """The run's JSON report."""
    path = _lab(request).report_file(request.match_info["run_id"], "json")
    return web.Response(body=path.read_bytes(), content_type="application/json")


async def run_output(request):
    """The last 64 KiB of the run's output (why a run ended without a verdict)."""
    return web.Response(text=_lab(request).output(request.match_info["run_id"]), content_type="text/plain")
