from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class NestingJSONParser(JSONParser):
    """DRF's JSON parser, but a body nested past Python's recursion limit (2 KB of `[`) is a
    400 like any other unreadable body: json.loads raises RecursionError there, not the
    ValueError DRF turns into ParseError, so it was a 500 and a logged traceback."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
