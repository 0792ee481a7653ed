"""Every name the serving code keeps something under, and what makes each out of date.

Two places keep things:

- **each app-server process** (`cache`): per MAC, the device with its accounts and the files
  rendered for it; and, by the names below, what many phones share. All of it is good for
  one config version only, and for CONFIG_CACHE_MAX_AGE_SECONDS at the most.
- **the shared cache** (Redis in production, CACHE_URL): the config version itself, and the
  throttle counts, which expire with their window. Nothing of a phone goes there.

A new config version is made whenever a row of a model in CONFIG_SOURCES is saved or deleted
(or one of its many-to-many relations changes), and by `cache.changed()` after a bulk write
that sends no signals. So every name below is out of date at once after any change: the
cache is simple, and changes are rare next to phone requests.
"""

from __future__ import annotations

# --- in the shared cache ---------------------------------------------------------------------

# The current config version: a random token, set anew by every change.
VERSION = "voipconfig:config-version"


def throttle_ip(network: str, window: int) -> str:
    """Failed phone requests from one address (an IPv6 /64) in one throttle window."""
    return f"throttle:ip:{network}:{window}"


def throttle_mac(mac: str, window: int) -> str:
    """Wrong passwords tried for one MAC in one throttle window."""
    return f"throttle:mac:{mac}:{window}"


# --- in each process, per config version -----------------------------------------------------

# A device entry's rendered files, by name.
MAC_FILE = "mac"


def organisation(pk: int) -> str:
    """The organisation, passwords decrypted: thousands of phones share a few of them."""
    return f"organisation:{pk}"


def common_file(organisation_pk: int, model_code: str) -> str:
    """`y0000000000XX.cfg`: the same for every phone of one organisation and model."""
    return f"common-file:{organisation_pk}:{model_code}"


def organisation_books(organisation_pk: int) -> str:
    """The organisation's phonebooks in order, and who may read the chosen-phones ones."""
    return f"phonebooks:{organisation_pk}"


def phonebook(book_pk: int, family: str) -> str:
    """A phonebook rendered for one phone family, with its ETag."""
    return f"phonebook:{book_pk}:{family}"


def media_choices(organisation_pk: int) -> str:
    """Which wallpaper and ringtone the organisation and each of its phones chose."""
    return f"media:{organisation_pk}"


# The softkey files by call state, and whether a CA certificate is current.
SHARED_MEDIA = "media:shared"


def wallpaper(organisation_pk: int, name: str, screen: tuple[int, int] | None) -> str:
    """Which stored file answers a wallpaper name for one screen size (None: unknown)."""
    return f"wallpaper:{organisation_pk}:{name}:{screen}"


def ringtone(organisation_pk: int, name: str) -> str:
    """Which stored file answers a ringtone name."""
    return f"ringtone:{organisation_pk}:{name}"


def softkey(name: str) -> str:
    """A softkey XML file under /xml/_global/."""
    return f"softkey:{name}"


CA_CERTIFICATE = "ca-certificate"

# Media bytes are kept too (`files`), by the SHA-256 of the bytes: a changed file has another
# hash, so those never go out of date and need no version.


# --- what makes a new config version ----------------------------------------------------------

# The models a phone's files are made of, by label. Models that are not here, and why:
# - devices.AccessLog: written by the phone requests themselves;
# - organisations.OrganisationStaff: who may log in to the admin;
# - media_assets.WallpaperRendition: made by phone requests; its wallpaper's hash decides;
# - rps.*: what was pushed to Yealink RPS; no phone reads it from us.
# tests/devices/test_config_sources.py fails for a model that is in neither list.
CONFIG_SOURCES = (
    "organisations.Organisation",
    "devices.Device",
    "devices.SipAccount",
    "phonebooks.Phonebook",  # with its chosen phones (many-to-many)
    "phonebooks.Contact",  # the rendered books are kept per version
    "media_assets.Wallpaper",
    "media_assets.Ringtone",
    "media_assets.SoftkeyFile",
    "media_assets.CaCertificate",
    "media_assets.OrganisationMedia",
    "media_assets.DeviceMedia",
)
NOT_CONFIG_SOURCES = (
    "devices.AccessLog",
    "organisations.OrganisationStaff",
    "media_assets.WallpaperRendition",
    "rps.RpsServerState",
    "rps.RpsDeviceState",
)
