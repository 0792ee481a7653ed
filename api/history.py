"""What a token changes shows in the admin's history of the object, under the token's name
(its user, `api.tokens._history_user`, is named "API token <name>")."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db.models import Model

from organisations.scoping import ApiClient

__all__ = ["ADDITION", "CHANGE", "DELETION", "record"]


def record(client: ApiClient, obj: Model, flag: int, fields: Iterable[str] = ()) -> None:
    named = sorted(set(fields))
    if flag == ADDITION:
        message = f"Added through the API (token {client.name})."
    elif flag == DELETION:
        message = f"Deleted through the API (token {client.name})."
    elif named:
        message = f"Changed {', '.join(named)} through the API (token {client.name})."
    else:
        message = f"Saved unchanged through the API (token {client.name})."
    LogEntry.objects.log_actions(
        user_id=client.user.pk,
        queryset=[obj],
        action_flag=flag,
        change_message=message,
        single_object=True,
    )
