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

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client

NEW_PASSWORD_ENV = "KRAFT_NEW_PASSWORD"
ACL_FIELDS = ("resource_type", "resource_name", "pattern_type", "principal", "host", "operation",
              "permission")
CONFIG_OPT, BOOTSTRAP_OPT = ConfigOpt, BootstrapOpt
SECURITY_OFF = ("security is off on this cluster (its cluster.toml has no [security]): ACLs are kept "
                "but not enforced, every client may do everything")


def register(app: typer.Typer) -> None:
    user_app = typer.Typer(no_args_is_help=True, help="SCRAM users (HTTP Basic, SASL): add, delete, list.")
    acl_app = typer.Typer(no_args_is_help=True, help="ACLs (Kafka's model): add, list, delete.")
    app.add_typer(user_app, name="user")
    app.add_typer(acl_app, name="acl")
    calls = _Calls()
    _user_commands(user_app, calls)
    _acl_commands(acl_app, calls)


class _Calls:
    """The HTTP API as the command's user; an error ends the command with one line."""

    def call(self, config, bootstrap, method, path, body=None):
        with admin_errors():
            return client(config, bootstrap).request(method, path, body)

    def call_v3(self, config, bootstrap, method, suffix, body=None):
        """A v3 call under the cluster's id (its lookup fails as the call would: one line)."""
        with admin_errors():
            return client(config, bootstrap).v3(method, suffix, body)

    def acls_and_security(self, config, bootstrap, method, suffix) -> tuple[list[dict], bool]:
        """The ACLs a v3 call answers, and whether the cluster enforces them ([security] on)."""
        with admin_errors():
            admin = client(config, bootstrap)
            acls = admin.v3(method, suffix)["data"]
            return acls, bool(admin.v3("GET", "").get("security_enabled", True))


def _user_commands(user_app: typer.Typer, calls: _Calls) -> None:
    @user_app.command("add")
    def user_add(name: str = typer.Argument(..., help="the user's name (its principal is User:NAME)"),
                 mechanism: str = typer.Option("SCRAM-SHA-256", "--mechanism",
                                               help="SCRAM-SHA-256 or SCRAM-SHA-512"),
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
    def user_delete(name: str = typer.Argument(..., help="the user's name"), config: Optional[Path] = CONFIG_OPT,
                    bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Delete a user: it is locked out on every node when this returns."""
        calls.call(config, bootstrap, "DELETE", f"/v1/security/users/{_quote(name)}")
        typer.echo(f"deleted user {name}")

    @user_app.command("list")
    def user_list(config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Every user and its SCRAM mechanisms (never a credential)."""
        users = calls.call(config, bootstrap, "GET", "/v1/security/users")
        for user in users:
            typer.echo(f"{user['name']}\t{','.join(user['mechanisms'])}")
        if not users:
            typer.echo(f"no users (`{NEW_PASSWORD_ENV}=... kraft user add NAME` adds one)", err=True)


def _acl_options(resource_type, resource_name, pattern_type, principal, host, operation, permission):
    values = dict(zip(ACL_FIELDS, (resource_type, resource_name, pattern_type, principal, host,
                                   operation, permission)))
    return {k: v for k, v in values.items() if v is not None}


def _acl_commands(acl_app: typer.Typer, calls: _Calls) -> None:
    @acl_app.command("add")
    def acl_add(principal: str = typer.Option(..., "--principal", help="User:NAME or User:*"),
                operation: str = typer.Option(..., "--operation", help="READ, WRITE, CREATE, DELETE, "
                                              "ALTER, DESCRIBE, ALTER_CONFIGS, DESCRIBE_CONFIGS, ALL, ..."),
                resource_type: str = typer.Option(..., "--resource-type",
                                                  help="TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, SUBJECT"),
                resource_name: str = typer.Option(..., "--resource-name", help="name, prefix or *"),
                pattern_type: str = typer.Option("LITERAL", "--pattern-type", help="LITERAL or PREFIXED"),
                host: str = typer.Option("*", "--host", help="the client address it applies to (* for all)"),
                permission: str = typer.Option("ALLOW", "--permission", help="ALLOW or DENY"),
                config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """Add one ACL binding."""
        body = _acl_options(resource_type, resource_name, pattern_type, principal, host, operation,
                            permission)
        calls.call_v3(config, bootstrap, "POST", "/acls", body)
        typer.echo(f"added {permission} {principal} {operation} on {resource_type} "
                   f"{resource_name} ({pattern_type})")

    @acl_app.command("list")
    def acl_list(principal: Optional[str] = typer.Option(None, "--principal", help="only this principal's: "
                                                         "User:NAME or User:*"),
                 resource_type: Optional[str] = typer.Option(None, "--resource-type", help="only on TOPIC, GROUP, "
                                                             "CLUSTER, TRANSACTIONAL_ID or SUBJECT"),
                 resource_name: Optional[str] = typer.Option(None, "--resource-name", help="only on this name"),
                 pattern_type: Optional[str] = typer.Option(None, "--pattern-type",
                                                            help="LITERAL, PREFIXED or MATCH (every ACL that "
                                                                 "applies to --resource-name)"),
                 config: Optional[Path] = CONFIG_OPT, bootstrap: Optional[str] = BOOTSTRAP_OPT):
        """ACLs matching the filter (every one without options); says so when the cluster
        does not enforce them (security off)."""
        from rich.table import Table

        from kraft.server import terminal
        query = _acl_options(resource_type, resource_name, pattern_type, principal, None, None, None)
        acls, enforced = calls.acls_and_security(config, bootstrap, "GET", f"/acls?{urllib.parse.urlencode(query)}")
        if acls:
            table = Table("Principal", "Host", "Operation", "Permission", "ResourceType", "ResourceName",
                          "PatternType")
            for a in acls:
                table.add_row(a["principal"], a["host"], a["operation"], a["permission"], a["resource_type"],
                              a["resource_name"], a["pattern_type"])
            terminal.console().print(table)
        else:
            typer.echo("no ACLs" + (" match" if query else "") + " (`kraft acl add` adds one)", err=True)
        if not enforced:
            typer.echo(f"kraft: {SECURITY_OFF}", err=True)

    @acl_app.command("delete")
    def acl_delete(principal: Optional[str] = typer.Option(None, "--principal", help="User:NAME or User:* "
                                                           "(default: any)"),
                   operation: str = typer.Option("ANY", "--operation", help="READ, WRITE, ..., or ANY"),
                   resource_type: str = typer.Option("ANY", "--resource-type", help="TOPIC, GROUP, CLUSTER, "
                                                     "TRANSACTIONAL_ID, SUBJECT or ANY"),
                   resource_name: Optional[str] = typer.Option(None, "--resource-name", help="default: any"),
                   pattern_type: str = typer.Option("ANY", "--pattern-type", help="LITERAL, PREFIXED, MATCH "
                                                    "or ANY"),
                   host: Optional[str] = typer.Option(None, "--host", help="default: any"),
                   permission: str = typer.Option("ANY", "--permission", help="ALLOW, DENY or ANY"),
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
