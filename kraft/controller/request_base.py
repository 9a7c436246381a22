"""The base of every controller request: typed on the sending side, validated again where
it is run (its payload crossed the network), a malformed one the caller's 400."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from kraft.errors import BadRequest


class ControllerRequest(BaseModel):
    op: ClassVar[str]
    model_config = ConfigDict(extra="forbid")

    def __init__(self, **fields: Any) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:  # a door's bad input: the caller's 400, not a 500
            raise BadRequest(f"{self.op}: {first_problem(exc)}") from None

    def payload(self) -> dict[str, Any]:
        """What crosses the network to the controller."""
        return self.model_dump(mode="json")


def first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"
