"""An Iceberg REST catalog for the tests, in a process of its own on a loopback port: the
external catalog kraft commits to when cluster.toml names one (docs/ICEBERG.md, "An
external catalog"). No REST catalog server can be installed here (Polaris, Lakekeeper,
Gravitino, Nessie and Iceberg's own fixture come from Maven Central or Docker Hub), so
this is the REST API's table operations as the spec gives them, over pyiceberg's own
metastore logic: a create or a register refused when the table exists (409), a commit's
requirements checked against the current metadata before its updates apply (409 when one
fails), one commit at a time. A bearer token is required when one is given.

    with RestCatalogServer(warehouse_uri, token="t") as catalog:
        catalog.uri                 # http://127.0.0.1:<port>
        catalog.lose_next_answer()  # the next commit lands, and its answer is a 504
        catalog.client()            # pyiceberg's RestCatalog on it

Run as a script it is the server: rest_catalog.py <host> <port> <warehouse uri> [token].
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request

from server_process import ServerProcess, free_port

START_S = 60.0  # pyiceberg's imports: seconds on a loaded 2-core machine


class RestCatalogServer:
    def __init__(self, warehouse: str, token: str = "", host: str = "127.0.0.1"):
        self.host, self.port, self.warehouse, self.token = host, free_port(host), warehouse, token
        self.uri = f"http://{host}:{self.port}"
        self._server = ServerProcess([sys.executable, __file__, host, str(self.port), warehouse, token],
                                     self.uri + "/healthz", START_S, f"the REST catalog on {self.uri}")

    def __enter__(self) -> "RestCatalogServer":
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def lose_next_answer(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.uri + "/test/lose-next-answer", method="POST"),
                               timeout=10).read()

    def client(self):
        from pyiceberg.catalog.rest import RestCatalog
        return RestCatalog("test", uri=self.uri, **({"token": self.token} if self.token else {}))


# -- the server -----------------------------------------------------------------------------

def serve(host: str, port: int, warehouse: str, token: str) -> None:
    from aiohttp import web
    from pyiceberg.catalog import MetastoreCatalog
    from pyiceberg.catalog.rest import CreateTableRequest
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
    from pyiceberg.serializers import FromInputFile
    from pyiceberg.table import CommitTableRequest, Table

    class Tables(MetastoreCatalog):
        """The table pointers, in memory; pyiceberg writes and checks the metadata."""

        def __init__(self) -> None:
            super().__init__("test", warehouse=warehouse)
            self.pointers: dict[tuple[str, str], str] = {}
            self.namespaces: set[str] = set()
            self.lock = threading.Lock()

        def load_table(self, identifier):
            location = self.pointers.get(tuple(identifier))
            if location is None:
                raise NoSuchTableError(".".join(identifier))
            io = self._load_file_io(location=location)
            return Table(identifier=tuple(identifier), metadata=FromInputFile.table_metadata(io.new_input(location)),
                         metadata_location=location, io=io, catalog=self)

        def _unused(self, *args, **kwargs):
            raise NotImplementedError("the server's handlers do this")

        commit_table = create_namespace = create_table = drop_namespace = drop_table = _unused
        list_namespaces = list_tables = list_views = load_namespace_properties = load_view = _unused
        register_table = register_view = rename_table = update_namespace_properties = view_exists = _unused
        drop_view = _unused

        def commit(self, identifier, requirements, updates):
            current = self.load_table(identifier) if identifier in self.pointers else None
            staged = self._update_and_stage_table(current, identifier, requirements, updates)
            self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
            self.pointers[identifier] = staged.metadata_location
            return staged

    tables = Tables()
    lose = {"next": False}

    def error(status: int, kind: str, message: str):
        return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)

    def loaded(location: str, metadata) -> web.Response:
        body = '{"metadata-location": %s, "metadata": %s, "config": {}}' % (json.dumps(location),
                                                                          metadata.model_dump_json())
        return web.Response(text=body, content_type="application/json")

    @web.middleware
    async def auth(request, handler):
        if token and request.path.startswith("/v1/") and request.headers.get("Authorization") != f"Bearer {token}":
            return error(401, "NotAuthorizedException", "a bearer token is required")
        return await handler(request)

    async def config(request):
        return web.json_response({"defaults": {}, "overrides": {}})

    async def create_namespace(request):
        name = ".".join((await request.json())["namespace"])
        if name in tables.namespaces:
            return error(409, "AlreadyExistsException", f"namespace {name} exists")
        tables.namespaces.add(name)
        return web.json_response({"namespace": name.split("."), "properties": {}})

    async def namespace(request):
        name = request.match_info["ns"]
        if name not in tables.namespaces:
            return error(404, "NoSuchNamespaceException", f"no namespace {name}")
        return web.json_response({"namespace": [name], "properties": {}})

    async def list_tables(request):
        ns = request.match_info["ns"]
        return web.json_response({"identifiers": [{"namespace": [n], "name": t}
                                                  for n, t in sorted(tables.pointers) if n == ns]})

    async def create_table(request):
        ns = request.match_info["ns"]
        if ns not in tables.namespaces:
            return error(404, "NoSuchNamespaceException", f"no namespace {ns}")
        req = CreateTableRequest.model_validate_json(await request.read())
        identifier = (ns, req.name)
        with tables.lock:
            if identifier in tables.pointers:
                return error(409, "AlreadyExistsException", f"table {ns}.{req.name} exists")
            staged = tables._create_staged_table(identifier, req.table_schema, req.location, req.partition_spec,
                                                 req.write_order, req.properties)
            tables._write_metadata(staged.metadata, staged.io, staged.metadata_location)
            tables.pointers[identifier] = staged.metadata_location
        return loaded(staged.metadata_location, staged.metadata)

    async def load_table(request):
        try:
            table = tables.load_table((request.match_info["ns"], request.match_info["table"]))
        except NoSuchTableError as exc:
            return error(404, "NoSuchTableException", f"no table {exc}")
        return loaded(table.metadata_location, table.metadata)

    async def commit(request):
        identifier = (request.match_info["ns"], request.match_info["table"])
        req = CommitTableRequest.model_validate_json(await request.read())
        with tables.lock:
            if identifier not in tables.pointers:
                return error(404, "NoSuchTableException", f"no table {'.'.join(identifier)}")
            try:
                staged = tables.commit(identifier, req.requirements, req.updates)
            except CommitFailedException as exc:
                return error(409, "CommitFailedException", str(exc))
        if lose["next"]:  # it landed; the answer is lost on its way
            lose["next"] = False
            return error(504, "ServiceUnavailableException", "the answer was lost")
        return web.Response(text='{"metadata-location": %s, "metadata": %s}' % (
            json.dumps(staged.metadata_location), staged.metadata.model_dump_json()), content_type="application/json")

    async def register(request):
        ns = request.match_info["ns"]
        body = await request.json()
        identifier = (ns, body["name"])
        with tables.lock:
            if identifier in tables.pointers and not body.get("overwrite"):
                return error(409, "AlreadyExistsException", f"table {ns}.{body['name']} exists")
            tables.pointers[identifier] = body["metadata-location"]
            table = tables.load_table(identifier)
        return loaded(table.metadata_location, table.metadata)

    async def drop_table(request):
        with tables.lock:
            if tables.pointers.pop((request.match_info["ns"], request.match_info["table"]), None) is None:
                return error(404, "NoSuchTableException", "no such table")
        return web.Response(status=204)

    async def lose_next(request):
        lose["next"] = True
        return web.Response(status=204)

    async def healthz(request):
        return web.Response(text="ok")

    app = web.Application(middlewares=[auth])
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_post("/test/lose-next-answer", lose_next)
    r.add_get("/v1/config", config)
    r.add_post("/v1/namespaces", create_namespace)
    r.add_route("HEAD", "/v1/namespaces/{ns}", namespace)
    r.add_get("/v1/namespaces/{ns}", namespace, allow_head=False)
    r.add_get("/v1/namespaces/{ns}/tables", list_tables)
    r.add_post("/v1/namespaces/{ns}/tables", create_table)
    r.add_get("/v1/namespaces/{ns}/tables/{table}", load_table)
    r.add_post("/v1/namespaces/{ns}/tables/{table}", commit)
    r.add_delete("/v1/namespaces/{ns}/tables/{table}", drop_table)
    r.add_post("/v1/namespaces/{ns}/register", register)
    web.run_app(app, host=host, port=port, print=None, handle_signals=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
