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

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A kind of thing kept: `Kind("phonebook")(12, "t5x")` is its name "phonebook:12:t5x"."""

    prefix: str

    def __call__(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])


# --- in the shared cache ---------------------------------------------------------------------

VERSION = "voipconfig:config-version"  # the current config version: a random token
THROTTLE_IP = Kind("throttle:ip")  # (network, window): failed requests from an address or /64
THROTTLE_MAC = Kind("throttle:mac")  # (mac, window): wrong passwords tried for one MAC
# (user name, window): wrong passwords tried with an organisation's user name, from anywhere
THROTTLE_USER = Kind("throttle:user")
# (nonce): the highest nc a Digest answer to it used (an answer is taken only with a higher
# one); it lives as long as a nonce does (DIGEST_NONCE_TTL_SECONDS), and a minute more.
DIGEST_NC = Kind("digest:nc")

# --- in each process, per config version -----------------------------------------------------

# A device entry's rendered MAC file (entries are kept by MAC), and the same with the key
# names of firmware before V81.
MAC_FILE = "mac"
MAC_FILE_V80 = "mac:v80"
# (pk): the organisation, passwords decrypted: thousands of phones share a few of them.
ORGANISATION = Kind("organisation")
ORGANISATION_USERNAMES = "organisation-usernames"  # every provisioning user name: its pk
# (organisation pk, model code, key names): y0000000000XX.cfg, the same for the
# organisation's model and the key names its firmware reads ("v81" or "v80").
COMMON_FILE = Kind("common-file")
SETTINGS_PROFILES = "settings-profiles"  # the provider's settings profiles by pk
# (organisation pk): its key profiles that have keys, by pk: (name, keys in order).
KEY_PROFILES = Kind("key-profiles")
# (organisation pk): its phonebooks in order, and who may read the chosen-phones ones.
ORGANISATION_BOOKS = Kind("phonebooks")
# (book pk, family slug): a phonebook rendered for one phone family, with its ETag.
PHONEBOOK = Kind("phonebook")
# (organisation pk): which wallpaper and ringtone the organisation and each phone chose.
MEDIA_CHOICES = Kind("media")
SHARED_MEDIA = "media:shared"  # the softkey files by call state; whether a CA is current
# (organisation pk, name, screen or None): which stored file answers a wallpaper name.
WALLPAPER = Kind("wallpaper")
# (organisation pk, name): which stored file answers a ringtone name.
RINGTONE = Kind("ringtone")
SOFTKEY = Kind("softkey")  # (name): a softkey XML file under /xml/_global/
CA_CERTIFICATE = "ca-certificate"  # the current CA certificate
FIRMWARE_TARGETS = "firmware-targets"  # every firmware target, by scope (firmware.targets)

# Media bytes are kept too (`files`), by the SHA-256 of the bytes: a changed file has another
# hash, so those never go out of date and need no version.


# --- what makes a new config version ----------------------------------------------------------

# The models a phone's files are made of, by label. Models that are not here, and why:
# - devices.AccessLog: written by the phone requests themselves;
# - devices.UnassignedPhone: written by the phone requests of phones not in the admin;
# - devices.FormerDevice: written and removed with a device, whose save or delete is a change;
# - organisations.OrganisationStaff: who may log in to the admin;
# - media_assets.WallpaperRendition: made by phone requests; its wallpaper's hash decides;
# - rps.*: what was pushed to Yealink RPS; no phone reads it from us.
# tests/devices/test_config_sources.py fails for a model that is in neither list.
CONFIG_SOURCES = (
    "organisations.Organisation",
    "organisations.SettingsProfile",
    "devices.Device",
    "devices.SipAccount",
    "devices.KeyProfile",
    "devices.ProfileKey",
    "devices.LineKey",
    "devices.Handset",
    "phonebooks.Phonebook",  # with its chosen phones (many-to-many)
    "phonebooks.Contact",  # the rendered books are kept per version
    "media_assets.Wallpaper",
    "media_assets.Ringtone",
    "media_assets.SoftkeyFile",
    "media_assets.CaCertificate",
    "media_assets.OrganisationMedia",
    "media_assets.DeviceMedia",
    "firmware.FirmwareImage",
    "firmware.FirmwareTarget",
    "firmware.Rollout",  # its state and open wave say which phones it offers the image
)
NOT_CONFIG_SOURCES = (
    "devices.AccessLog",
    "devices.AccessLogWriter",
    "devices.AccessLogHour",
    "devices.UnassignedPhone",
    "devices.FormerDevice",
    "devices.ForeignMacAttempt",
    "organisations.OrganisationStaff",
    "media_assets.WallpaperRendition",
    "rps.RpsServerState",
    "rps.RpsDeviceState",
    # A phone's progress in a rollout changes no file: its wave opening does (Rollout).
    "firmware.RolloutPhone",
    "firmware.RolloutSample",
    # A job does its work through the models it writes (contacts, RPS state).
    "jobs.Job",
)
