"""What organisation staff read about RPS: plain words that name no setting, library, RPS
error key or exception. The detail beside each (`last_error_detail`, `Problem.detail`) is for
the provider: the command's output, the application log and the provider's admin pages.
"""

from __future__ import annotations

from jobs.work import PROVIDER_TOLD

UNREACHABLE = (
    "Yealink RPS, the phone registry, could not be reached, so the sync stopped; try again later."
)
REFUSED_ACCESS = (
    "Yealink RPS refused this server's access, so nothing was sent; please tell your provider."
)
NOT_SET_UP = "Syncing with Yealink RPS is not set up on this server; please tell your provider."
NO_ANSWER = "Yealink RPS did not answer; the next sync tries again."
PHONE_REFUSED = "Yealink RPS refused to register this phone; please tell your provider."
OWNED_BY_OTHER = (
    "Registered in Yealink RPS by another provider (perhaps the one it came from). Once they "
    'have released it, use "Sync with RPS" on this phone; your provider can help.'
)
REMOVAL_REFUSED = "Yealink RPS refused to remove this phone; please tell your provider."
SERVER_NOT_CREATED = (
    "Yealink RPS refused to set up this organisation's server, so its phones are not "
    "registered there; please tell your provider."
)
SERVER_NOT_UPDATED = (
    "Yealink RPS refused to update this organisation's server; please tell your provider."
)
SERVER_NOT_DELETED = "Yealink RPS refused to delete a server no organisation uses any more."
CALL_REFUSED = "Yealink RPS refused a call of the sync; please tell your provider."
NOT_SYNCED = "Not synced yet."

# A "Sync with RPS" job that could not be done: the provider has been told (the worker logs it
# at ERROR and mails ADMINS), so staff are not asked to tell them.
UNREACHABLE_JOB = f"{UNREACHABLE} {PROVIDER_TOLD}"
REFUSED_ACCESS_JOB = (
    f"Yealink RPS refused this server's access, so nothing was sent. {PROVIDER_TOLD}"
)
NOT_SET_UP_JOB = f"Syncing with Yealink RPS is not set up on this server. {PROVIDER_TOLD}"
