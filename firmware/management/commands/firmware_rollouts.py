"""`manage.py firmware_rollouts`: move every rollout under way on (firmware.rollouts).

Run it every minute (a cron line or timer; runs may overlap harmlessly: each rollout is
evaluated under a row lock). It marks the phones that came back on the new version, opens
the next wave when one is done, completes a rollout, or halts it (mail to ADMINS, an error
in the log) when too many phones of a wave did not come back in time.

    * * * * *  cd /srv/voipconfig && .venv/bin/python manage.py firmware_rollouts

A rollout that halts is printed to stderr once, by the run that halted it (cron mails it);
the exit status stays 1 while any rollout is halted, for monitoring.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from firmware import rollouts
from firmware.models import Rollout


class Command(BaseCommand):
    help = (
        "Evaluate every firmware rollout under way: mark the phones back on the new version, "
        "open the next wave, complete or halt. Exit status 1 while a rollout is halted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet", action="store_true", help="Print nothing unless a rollout halts."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = rollouts.evaluate_all()
        quiet = options["quiet"]
        for rollout in changed:
            if rollout.state == Rollout.State.HALTED:
                continue
            if not quiet:
                self.stdout.write(
                    f"{rollout}: {rollout.get_state_display().lower()}, wave {rollout.wave + 1}"
                )
        for rollout in changed:  # said once, when it halts (cron mails what is printed)
            if rollout.state == Rollout.State.HALTED:
                self.stderr.write(f"{rollout}: halted. {rollout.halt_reason}")
        halted = list(Rollout.objects.filter(state=Rollout.State.HALTED))
        if not quiet:
            under_way = Rollout.objects.filter(state__in=rollouts.UNDER_WAY).count()
            self.stdout.write(f"{under_way} rollout(s) under way, {len(halted)} halted.")
        if halted:
            sys.exit(1)
