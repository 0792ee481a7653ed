"""The request body parsers: DRF's, refusing what no field takes before any field sees it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser

logger = logging.getLogger("api")


def _nul_at(value: Any, pointer: str = "") -> str | None:
    """The JSON pointer of the first string (or key) holding a NUL, or None."""
    if isinstance(value, str):
        return pointer if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{pointer}/{key}"
            if "\x00" in str(key):
                return where
            found = _nul_at(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


def refuse_nul(data: Any) -> None:
    """No text we keep holds a NUL (PostgreSQL cannot, and no phone means one): a 400 that
    says where, rather than a database error wherever the value is first used (a lookup)."""
    where = _nul_at(data)
    if where is not None:
        raise exceptions.ParseError(
            gettext("The body holds a NUL character (\\u0000) at %(pointer)s: no field takes one.")
            % {"pointer": where or "/"},
            code="nul_character",
        )


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
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(gettext("JSON parse error - nested too deeply.")) from None
        except exceptions.ParseError as error:
            # DRF's text is the json module's exception; the client reads where, in words.
            raise exceptions.ParseError(_unreadable_json(error.__context__)) from None
        refuse_nul(data)
        return data


def _unreadable_json(cause: BaseException | None) -> str:
    logger.info("API: a body that is not JSON: %s", cause)
    if isinstance(cause, json.JSONDecodeError):
        return gettext("The request body is not valid JSON: line %(line)d, column %(column)d.") % {
            "line": cause.lineno,
            "column": cause.colno,
        }
    if isinstance(cause, UnicodeDecodeError):
        return gettext("The request body is not UTF-8 text: send JSON in UTF-8.")
    return gettext("The request body is not valid JSON.")


class NulRefusingMultiPartParser(MultiPartParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles[Any, Any]:
        try:
            parsed = super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as error:
            logger.info("API: a multipart body that cannot be read: %s", error.detail)
            raise exceptions.ParseError(
                gettext(
                    "The request body is not a valid multipart form: check its boundary and "
                    "its parts."
                )
            ) from None
        refuse_nul({key: parsed.data.getlist(key) for key in parsed.data})
        return parsed
