"""An S3-compatible object store for the tests: moto's server (the test extras), a
process of its own on a loopback port, spoken to over HTTP by pyarrow, pyiceberg, DuckDB
and the nodes exactly as they would speak to S3. Real S3 cannot run here; this is the
store's API as AWS documents it, in memory.

    with S3Store() as store:
        store.bucket("lake")
        store.env        # the credentials a client needs (AWS_ACCESS_KEY_ID, ...)
        store.endpoint   # http://127.0.0.1:<port>
"""

from __future__ import annotations

import sys

import pytest
from server_process import ServerProcess, free_port

START_S = 60.0  # moto imports Flask and its AWS models: seconds on a loaded 2-core machine


class S3Store:
    def __init__(self, host: str = "127.0.0.1"):
        pytest.importorskip("moto.server", reason="needs moto[server] (the test extras): an S3 endpoint to write to")
        self.host = host
        self.port = free_port(host)
        self.endpoint = f"http://{host}:{self.port}"
        self.env = {"AWS_ACCESS_KEY_ID": "kraft-test", "AWS_SECRET_ACCESS_KEY": "kraft-test-secret",
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
        self._server = ServerProcess([sys.executable, "-m", "moto.server", "-H", host, "-p", str(self.port)],
                                     self.endpoint + "/", START_S, f"the S3 store on {self.endpoint}")

    def __enter__(self) -> "S3Store":
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out, token = [], None
        while True:
            page = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix,
                                                 **({"ContinuationToken": token} if token else {}))
            out += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return out

    def use_in_this_process(self, monkeypatch) -> None:
        """pyarrow's S3 client here reads the credentials from the environment, as a node's does."""
        for k, v in self.env.items():
            monkeypatch.setenv(k, v)
