"""The OpenAPI schema's parts DRF and drf-spectacular do not know: the Bearer scheme and
the problem-details answers every operation may give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable: script against this."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the body"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["pointer", "code", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": True,
}
WHY = {
    "400": "The request is not valid: `errors` says which field and why.",
    "401": "No token, or not a valid one.",
    "403": "The token may not do this (read-only, an organisation token, deactivated).",
    "404": "No such object among those the token may see, no such page, or no such route.",
    "405": "Not a method of this resource.",
    "409": "It is still in use, or the change conflicts with another.",
    "413": "The upload is too large.",
    "415": "Not a content type this resource takes.",
    "429": "Too many requests for this token: wait for Retry-After seconds.",
}


class BearerScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.auth.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token."}


def add_problem_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS: every operation's error answers, in the one format."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            codes = ["400", "401", "403", "405", "429"]
            if method in ("post", "put", "patch"):
                codes += ["409", "413", "415"]
            codes.append("404")  # another's object, a page past the end, or no such route
            if method == "delete":
                codes.append("409")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": WHY[code], "content": problem})
    return result
