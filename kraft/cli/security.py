"""`kraft user add|delete|list` and `kraft acl add|delete|list`.

They call the HTTP API as KRAFT_USER (a super user, or one with ALTER / DESCRIBE on the
cluster). A new user's password comes from KRAFT_NEW_PASSWORD or a prompt, never from
an argument other users could read in the process list.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from kraft.server import terminal
from kraft.client.admin_client import AdminError

out = terminal.console()
NEW_PASSWORD_ENV = "KRAFT_NEW_PASSWORD"
ACL_FIELDS = ("resource_type", "resource_name", "pattern_type", "principal", "host", "operation",
              "permission")
CONFIG_OPT = typer.Option(None, "-c", "--config", help="cluster.toml")
BOOTSTRAP_OPT = typer.Option(None, "--bootstrap", help="any node's HTTP address: HOST:PORT or a URL")


def register(app: typer.Typer, client_factory, fail) -> None:
    user_app = typer.Typer(no_args_is_help=True, help="SCRAM users (HTTP Basic, SASL).")
    acl_app = typer.Typer(no_args_is_help=True, help="ACLs (Kafka's model).")
    app.add_typer(user_app, name="user")
    app.add_typer(acl_app, name="acl")
    calls = _Calls(client_factory, fail)
    _user_commands(user_app, calls)
    _acl_commands(acl_app, calls)


class _Calls:
    """The HTTP API as the command's user; an error ends the command with one line."""

    def __init__(self, client_factory, fail) -> None:
        self._client_factory = client_factory
        self._fail = fail

    def call(self, config, bootstrap, method, path, body=None):
        try:
            return self._client_factory(config, bootstrap).request(method, path, body)
        except AdminError as exc:
            self._fail(str(exc))

    def call_v3(self, config, bootstrap, method, suffix, body=None):
        """A v3 call under the cluster's id (its lookup fails as the call would: one line)."""
        try:
            return self._client_factory(config, bootstrap).v3(method, suffix, body)
        except AdminError as exc:
            self._fail(str(exc))


def _user_commands(user_app: typer.Typer, calls: _Calls) -> None:
    @user_app.command("add")
    def user_add(name: str,
                 mechanism: str = typer.Option("SCRAM-SHA-256", "--mechanism"),
                 update: bool = typer.Option(False, "--update", help="change an existing user's password"),
                 config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Create a user (or --update its password); the password is read from
        KRAFT_NEW_PASSWORD or prompted for."""
        password = os.environ.get(NEW_PASSWORD_ENV) or typer.prompt(
            f"password for {name}", hide_input=True, confirmation_prompt=True)
        if update:
            calls.call(config, bootstrap, "PUT", f"/v1/security/users/{_quote(name)}",
                       {"password": password, "algorithm": mechanism})
            typer.echo(f"updated user {name}")
        else:
            calls.call(config, bootstrap, "POST", "/v1/security/users",
                       {"username": name, "password": password, "algorithm": mechanism})
            typer.echo(f"created user {name}")

    @user_app.command("delete")
    def user_delete(name: str, config: Optional[Path] = CONFIG_OPT,
                    bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Delete a user: it is locked out on every node when this returns."""
        calls.call(config, bootstrap, "DELETE", f"/v1/security/users/{_quote(name)}")
        typer.echo(f"deleted user {name}")

    @user_app.command("list")
    def user_list(config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Every user and its SCRAM mechanisms (never a credential)."""
        for user in calls.call(config, bootstrap, "GET", "/v1/security/users"):
            typer.echo(f"{user['name']}\t{','.join(user['mechanisms'])}")


def _acl_options(resource_type, resource_name, pattern_type, principal, host, operation, permission):
    values = dict(zip(ACL_FIELDS, (resource_type, resource_name, pattern_type, principal, host,
                                   operation, permission)))
    return {k: v for k, v in values.items() if v is not None}


def _acl_commands(acl_app: typer.Typer, calls: _Calls) -> None:
    @acl_app.command("add")
    def acl_add(principal: str = typer.Option(..., "--principal", help="User:NAME or User:*"),
                operation: str = typer.Option(..., "--operation", help="READ, WRITE, CREATE, DELETE, "
                                              "ALTER, DESCRIBE, ALTER_CONFIGS, DESCRIBE_CONFIGS, ALL, ..."),
                resource_type: str = typer.Option(..., "--resource-type", help="TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, SUBJECT"),
                resource_name: str = typer.Option(..., "--resource-name", help="name, prefix or *"),
                pattern_type: str = typer.Option("LITERAL", "--pattern-type", help="LITERAL or PREFIXED"),
                host: str = typer.Option("*", "--host"),
                permission: str = typer.Option("ALLOW", "--permission", help="ALLOW or DENY"),
                config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Add one ACL binding."""
        body = _acl_options(resource_type, resource_name, pattern_type, principal, host, operation,
                            permission)
        calls.call_v3(config, bootstrap, "POST", "/acls", body)
        typer.echo(f"added {permission} {principal} {operation} on {resource_type} "
                   f"{resource_name} ({pattern_type})")

    @acl_app.command("list")
    def acl_list(principal: Optional[str] = typer.Option(None, "--principal"),
                 resource_type: Optional[str] = typer.Option(None, "--resource-type"),
                 resource_name: Optional[str] = typer.Option(None, "--resource-name"),
                 pattern_type: Optional[str] = typer.Option(None, "--pattern-type",
                                                            help="LITERAL, PREFIXED or MATCH"),
                 config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """ACLs matching the filter (every one without options)."""
        query = _acl_options(resource_type, resource_name, pattern_type, principal, None, None, None)
        acls = calls.call_v3(config, bootstrap, "GET", f"/acls?{urllib.parse.urlencode(query)}")
        table = Table("Principal", "Host", "Operation", "Permission", "ResourceType", "ResourceName",
                      "PatternType")
        for a in acls["data"]:
            table.add_row(a["principal"], a["host"], a["operation"], a["permission"], a["resource_type"],
                          a["resource_name"], a["pattern_type"])
        out.print(table)

    @acl_app.command("delete")
    def acl_delete(principal: Optional[str] = typer.Option(None, "--principal"),
                   operation: str = typer.Option("ANY", "--operation"),
                   resource_type: str = typer.Option("ANY", "--resource-type"),
                   resource_name: Optional[str] = typer.Option(None, "--resource-name"),
                   pattern_type: str = typer.Option("ANY", "--pattern-type"),
                   host: Optional[str] = typer.Option(None, "--host"),
                   permission: str = typer.Option("ANY", "--permission"),
                   config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Delete every ACL matching the filter (ANY matches every value)."""
        query = _acl_options(resource_type, resource_name, pattern_type, principal, host, operation,
                             permission)
        gone = calls.call_v3(config, bootstrap, "DELETE", f"/acls?{urllib.parse.urlencode(query)}")["data"]
        typer.echo(f"deleted {len(gone)} ACL(s)")
        for a in gone:
            typer.echo(f"  {a['permission']} {a['principal']} {a['operation']} on {a['resource_type']} "
                       f"{a['resource_name']} ({a['pattern_type']})")


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")
