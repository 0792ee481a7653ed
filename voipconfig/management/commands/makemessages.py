"""Django's makemessages, leaving out what is never translated: the tests, the benchmarks,
the deploy files, the migrations and what a checkout collects or keeps at run time.
`make messages` runs it for Dutch and compiles the result; tests/test_translations.py fails
when a marked string lacks its Dutch."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemessages

# Glob patterns, as makemessages' --ignore takes them (matched against each path and name).
NOT_TRANSLATED = [
    "tests",
    "bench",
    "deploy",
    "docs",
    "var",
    "static",
    "staticfiles",
    "media",
    "node_modules",
    "*/migrations",
]


class Command(makemessages.Command):
    help = (
        makemessages.Command.help
        + " voipconfig's version also leaves out the tests, benchmarks, deploy files and"
        " migrations."
    )

    def handle(self, *args: Any, **options: Any) -> str | None:
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *NOT_TRANSLATED]
        return super().handle(*args, **options)
