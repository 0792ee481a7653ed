"""Every option and argument of every manage.py command of the project says what it is for
in `--help`."""

from __future__ import annotations

import argparse

from django.core.management import get_commands, load_command_class

PROJECT_APPS = {
    "organisations",
    "devices",
    "phonebooks",
    "media_assets",
    "rps",
    "firmware",
    "api",
    "voipconfig",
}


def project_commands() -> dict[str, str]:
    """Each command of the project's apps, by name, with its app."""
    return {name: app for name, app in get_commands().items() if app in PROJECT_APPS}


def without_help(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]


def test_the_project_has_commands_to_check():
    assert {"prune_access_log", "rps_sync", "firmware_rollouts", "createorgadmin"} <= set(
        project_commands()
    )


def test_every_option_of_every_project_command_has_help_text():
    missing = {
        name: unexplained
        for name, app in project_commands().items()
        if (
            unexplained := without_help(
                load_command_class(app, name).create_parser("manage.py", name)
            )
        )
    }

    assert missing == {}


def test_an_option_without_help_is_found():
    parser = argparse.ArgumentParser()
    parser.add_argument("--explained", help="what it does")
    parser.add_argument("--bare")
    parser.add_argument("name")

    assert without_help(parser) == ["--bare", "name"]
