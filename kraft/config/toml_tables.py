"""What every table of cluster.toml shares: frozen pydantic models that refuse unknown
keys, the field types used across them, and how a validator names the key at fault."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
PositiveMs = Annotated[int, Field(strict=True, gt=0)]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def invalid(sub_path: str, reason: str) -> PydanticCustomError:
    """An error at `sub_path` below the validator's own location (cluster.py's
    _error_from_validation puts the two together)."""
    return PydanticCustomError("kraft_config", "{reason}", {"reason": reason, "sub_path": sub_path})


def toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
