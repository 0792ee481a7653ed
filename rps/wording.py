"""What organisation staff read about RPS: plain words that name no setting, library, RPS
error key or exception. The detail beside each (`last_error_detail`, `Problem.detail`) is for
the provider: the command's output, the application log and the provider's admin pages.

The words are stored as they are here, in English (`last_error`, `Problem.message`: the
command and the log read them so), and translated where they are shown (`said`).
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

UNREACHABLE = gettext_noop(
    "Yealink RPS, the phone registry, could not be reached, so the sync stopped; try again later."
)
REFUSED_ACCESS = gettext_noop(
    "Yealink RPS refused this server's access, so nothing was sent; please tell your provider."
)
NOT_SET_UP = gettext_noop(
    "Syncing with Yealink RPS is not set up on this server; please tell your provider."
)
NO_ANSWER = gettext_noop("Yealink RPS did not answer; the next sync tries again.")
PHONE_REFUSED = gettext_noop(
    "Yealink RPS refused to register this phone; please tell your provider."
)
OWNED_BY_OTHER = gettext_noop(
    "Registered in Yealink RPS by another provider (perhaps the one it came from). Once they "
    'have released it, use "Sync with RPS" on this phone; your provider can help.'
)
REMOVAL_REFUSED = gettext_noop(
    "Yealink RPS refused to remove this phone; please tell your provider."
)
SERVER_NOT_CREATED = gettext_noop(
    "Yealink RPS refused to set up this organisation's server, so its phones are not "
    "registered there; please tell your provider."
)
SERVER_NOT_UPDATED = gettext_noop(
    "Yealink RPS refused to update this organisation's server; please tell your provider."
)
SERVER_NOT_DELETED = gettext_noop(
    "Yealink RPS refused to delete a server no organisation uses any more."
)
CALL_REFUSED = gettext_noop("Yealink RPS refused a call of the sync; please tell your provider.")
NOT_SYNCED = gettext_noop("Not synced yet.")

# A "Sync with RPS" job that could not be done: the provider has been told (the worker logs it
# at ERROR and mails ADMINS), so staff are not asked to tell them.
UNREACHABLE_JOB = gettext_noop(
    "Yealink RPS, the phone registry, could not be reached, so the sync stopped; try again "
    "later. Your provider has been told."
)
REFUSED_ACCESS_JOB = gettext_noop(
    "Yealink RPS refused this server's access, so nothing was sent. Your provider has been told."
)
NOT_SET_UP_JOB = gettext_noop(
    "Syncing with Yealink RPS is not set up on this server. Your provider has been told."
)


def said(text: str) -> str:
    """`text` (one of the above, as stored) in the reader's language; other text as it is."""
    return gettext(text) if text else ""
