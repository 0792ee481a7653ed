"""Organisations are isolated in the API (issue 16): every route of the schema, walked with
alpha's read-write token and its read-only token against a rich organisation beta ("bravo"),
fails for any answer that shows, changes or confirms beta's data.

Three oracles judge every request:

- **shows**: no answer holds one of beta's markers (its slug and name, its MACs in any
  notation, SIP user names and passwords, phonebook, contact, media and key names, its
  access log's paths and user agents, its RPS state, its rows' ids), unless the request sent
  that marker itself (an echo tells nothing). The raw bytes are searched, case-insensitively.
- **changes**: beta's rows (each model of the scoping registry, and each row pointing at an
  organisation), and the provider's shared files, are the same after the request as before.
  Each request runs in a savepoint rolled back after it, so every request meets the same
  database and is judged on its own.
- **confirms**: the answer to a request naming beta's objects equals the answer to the same
  request naming objects nobody has (GHOST), status and body, once each side's names are
  replaced by placeholders: alpha cannot tell beta's object from a missing one. The one
  exception, by design, is adding a MAC another organisation has (FOREIGN_MAC below).

A read-only token answers 403 read_only_token to every write, on beta's objects and on
alpha's own, and changes nothing.

The routes come from the schema itself (and a test checks that every route of the router is
in it). A path, path parameter, query parameter or operation this file does not know fails
`test_the_walk_knows_every_operation_of_the_schema`: a new route cannot escape the walk.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from drf_spectacular.generators import SchemaGenerator

from devices import foreign_macs
from devices.mac import format_mac
from devices.models import (
    AccessLog,
    ForeignMacAttempt,
    KeyProfile,
    KeyType,
    LineKey,
    ProfileKey,
    UnassignedPhone,
)
from media_assets.models import DeviceMedia, OrganisationMedia, Ringtone, Wallpaper
from media_assets.validation import inspect_wav
from organisations.models import Organisation, SettingsProfile
from organisations.scoping import scoped_models
from phonebooks.models import Contact, Phonebook
from rps.models import RpsDeviceState, RpsServerState
from tests.api.conftest import Api, api_client
from tests.conftest import Tenant
from tests.factories import make_account, make_device, make_organisation, user_agent
from tests.media_assets.media import image_bytes, pcm_wav

PREFIX = "/api/v1/"
SAFE = ("GET", "HEAD", "OPTIONS")
FREE_MAC = "805ec0f0f001"  # nobody's, before and after: where a body needs a new MAC


# --- the names a request can carry ---------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """What a request names: an organisation's real objects, or ones nobody has."""

    slug: str
    mac: str
    phonebook: int
    contact: int
    wallpaper: int
    ringtone: int
    unassigned: int
    access_log: int
    key_profile_id: int
    settings_profile: int  # the provider's (organisation tokens may not even read them)
    key_profile: str
    phonebook_name: str
    wallpaper_name: str
    ringtone_name: str
    sip_user: str

    def substitutions(self) -> list[tuple[re.Pattern[str], str]]:
        """Each name's texts and the placeholder that replaces them, longest first, so the
        two sides of a comparison read alike."""
        texts = [(re.escape(notation), "<mac>") for notation in notations(self.mac)]
        for kind in ("slug", "key_profile", "phonebook_name", "wallpaper_name", "ringtone_name"):
            texts.append((re.escape(getattr(self, kind)), f"<{kind}>"))
        texts.append((re.escape(self.sip_user), "<sip_user>"))
        numbers = ("phonebook", "contact", "wallpaper", "ringtone", "unassigned", "access_log")
        for kind in (*numbers, "key_profile_id", "settings_profile"):
            texts.append((whole(getattr(self, kind)), f"<{kind}>"))
        texts.sort(key=lambda pair: -len(pair[0]))
        return [(re.compile(pattern, re.IGNORECASE), placeholder) for pattern, placeholder in texts]


def whole(number: int) -> str:
    """A number standing alone in a text ("pb-t4xg-7.xml"), not in "t2x" or a hex digest."""
    return rf"(?<![0-9a-zA-Z]){number}(?![0-9a-zA-Z])"


def notations(mac: str) -> list[str]:
    """A MAC as a person or a phone may write it (in any case)."""
    pairs = [mac[i : i + 2] for i in range(0, 12, 2)]
    return [
        mac,
        ":".join(pairs),
        "-".join(pairs),
        ".".join(mac[i : i + 4] for i in range(0, 12, 4)),
    ]


# Beta's rows get ids of their own, far from those of alpha's rows (made first) and apart
# from each other's (SQLite hands out the next id after the largest), so that a placeholder
# replaces an id and nothing else ("line 1" stays "line 1").
BETA_IDS = {
    "phonebook": 4100001,
    "contact": 4200001,
    "wallpaper": 4300001,
    "ringtone": 4400001,
    "unassigned": 4500001,
    "access_log": 4600001,
    "key_profile_id": 4700001,
    "settings_profile": 4800001,
}
GHOST = Names(
    slug="ghost",
    mac="001565e0e099",
    phonebook=9100001,
    contact=9100002,
    wallpaper=9100003,
    ringtone=9100004,
    unassigned=9100005,
    access_log=9100006,
    key_profile_id=9100007,
    settings_profile=9100008,
    key_profile="Banshee keys",
    phonebook_name="Phantom directory",
    wallpaper_name="wraith.png",
    ringtone_name="spectre.wav",
    sip_user="g9901",
)


# --- the tables: how to fill each route of the schema --------------------------------------

# A path parameter, by the path segment before it: which of the Names it takes.
PATH_OBJECTS: dict[tuple[str, str], str] = {
    ("organisations", "slug"): "slug",
    ("devices", "mac"): "mac",
    ("phonebooks", "id"): "phonebook",
    ("phonebooks", "phonebook_id"): "phonebook",
    ("contacts", "contact_id"): "contact",
    ("wallpapers", "id"): "wallpaper",
    ("ringtones", "id"): "ringtone",
    ("unassigned-phones", "id"): "unassigned",
    ("access-log", "id"): "access_log",
    ("key-profiles", "id"): "key_profile_id",
    ("settings-profiles", "id"): "settings_profile",
}

# A query parameter: "@name" names the target's object (one of the Names); a plain value
# names nobody's; None is not sent (an opaque cursor the server hands out).
QUERY: dict[str, str | None] = {
    "organisation": "@slug",
    "mac": "@mac",
    "page": "1",
    "page_size": "50",
    "cursor": None,
    "outcome": "success",
    "since": "2000-01-01T00:00:00Z",
    "until": "2999-01-01T00:00:00Z",
    "status_code": "200",
}

Body = Callable[[Names, Names], Any]  # (target, alpha's own) -> the request's body


@dataclass(frozen=True)
class Variant:
    """One request of an operation. The path names the target's objects (beta's, or
    GHOST's), except the parameters in `own`, which name alpha's; the body names what
    `body(target, own)` says."""

    name: str = "plain"
    body: Body | None = None
    multipart: bool = False
    own: tuple[str, ...] = ()
    query: tuple[str, str] | None = None
    # Why beta's answer may differ from GHOST's; then it must be refused at this pointer of
    # the body in the admin's words (FOREIGN_MAC is the one such case).
    differs: str = ""
    refused_at: str = ""
    # Rows alpha needs for this request, made in its savepoint: path parameters they fill.
    setup: Callable[[World, Names], dict[str, str]] | None = None


FOREIGN_MAC = (
    "Adding a MAC another organisation has is refused, and recorded for the provider, while "
    "a MAC nobody has is added: a MAC is one phone, so the answers must differ "
    "(devices/foreign_macs.py). The refusal must be the admin's own words, naming neither "
    "the organisation nor anything of its; the number of such tries is limited per day."
)


def foreign_mac(name: str, body: Body, pointer: str, **fields: Any) -> Variant:
    """A request that adds the target's MAC to alpha's phones (see FOREIGN_MAC)."""
    return Variant(name, body, differs=FOREIGN_MAC, refused_at=pointer, **fields)


@functools.cache
def png_bytes() -> bytes:
    return image_bytes()


@functools.cache
def wav_bytes() -> bytes:
    return pcm_wav()


def png(name: str = "upload.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def wav(name: str = "upload.wav") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, wav_bytes(), content_type="audio/wav")


def _own_unassigned_with_targets_mac(world: World, target: Names) -> dict[str, str]:
    """A phone asked with alpha's credentials, under a MAC beta has (or nobody has)."""
    phone = UnassignedPhone.objects.create(
        organisation=world.alpha, mac=target.mac, model="T46U", firmware="66.86.0.15"
    )
    return {"id": str(phone.pk)}


PHONE_CHANGES = (
    Variant("label", lambda t, o: {"mac": format_mac(t.mac), "model": "T46U", "label": "Mine"}),
    Variant(
        "move own phone to target",
        lambda t, o: {"organisation": t.slug, "mac": o.mac, "model": "T54W"},
        own=("mac",),
    ),
    Variant(
        "own phone takes target's key profile",
        lambda t, o: {"mac": o.mac, "model": "T54W", "key_profile": t.key_profile},
        own=("mac",),
    ),
    foreign_mac(
        "own phone takes target's MAC",
        lambda t, o: {"mac": format_mac(t.mac).upper(), "model": "T54W"},
        "/mac",
        own=("mac",),
    ),
)
CHOICES = (
    Variant("none", lambda t, o: {"wallpaper": None, "ringtone": None}),
    Variant(
        "own takes target's files",
        lambda t, o: {"wallpaper": t.wallpaper, "ringtone": t.ringtone},
        own=("mac", "slug"),
    ),
)
BOOK_CHANGES = (
    Variant("rename", lambda t, o: {"name": "Taken", "title": "Taken"}),
    Variant(
        "own book to target",
        lambda t, o: {"organisation": t.slug, "name": "Moved", "title": "Moved"},
        own=("id",),
    ),
    Variant(
        "own book for target's phone",
        lambda t, o: {"name": "Mine", "title": "Mine", "audience": "chosen", "devices": [t.mac]},
        own=("id",),
    ),
)
CONTACT_CHANGES = (
    Variant("rename", lambda t, o: {"name": "Taken", "number_1": "100"}),
    Variant(
        "target's contact in own book",
        lambda t, o: {"name": "Taken", "number_1": "100"},
        own=("phonebook_id",),
    ),
)
IN_OWN_BOOK = (Variant(), Variant("target's contact in own book", own=("phonebook_id",)))
KEY_PROFILE_CHANGES = (
    Variant("rename", lambda t, o: {"name": "Taken"}),
    Variant(
        "own profile to target",
        lambda t, o: {"organisation": t.slug, "name": "Moved"},
        own=("id",),
    ),
)
ORGANISATION = {"name": "Taken", "sip_server": "sip.taken.example", "provisioning_username": "t"}


def _media(upload: Callable[[str], SimpleUploadedFile], name_of: str) -> dict[str, Any]:
    """The variants of wallpapers' or ringtones' operations."""
    return {
        "create": (
            Variant(
                "into target",
                lambda t, o: {"organisation": t.slug, "file": upload("upload")},
                multipart=True,
            ),
            Variant(
                "target's name",
                lambda t, o: {"name": getattr(t, name_of), "file": upload("upload")},
                multipart=True,
            ),
        ),
        "partial_update": (
            Variant("rename", lambda t, o: {"name": "taken" + getattr(t, name_of)[-4:]}),
            Variant(
                "own takes target's name", lambda t, o: {"name": getattr(t, name_of)}, own=("id",)
            ),
        ),
    }


WALLPAPERS = _media(lambda name: png(name + ".png"), "wallpaper_name")
RINGTONES = _media(lambda name: wav(name + ".wav"), "ringtone_name")

# Every operation of the schema and the requests that try it; () is one request with no
# body, every path parameter naming the target's object.
OPERATIONS: dict[str, tuple[Variant, ...]] = {
    "access_log_list": (),
    "access_log_retrieve": (),
    "devices_list": (),
    "devices_create": (
        Variant(
            "into target", lambda t, o: {"organisation": t.slug, "mac": FREE_MAC, "model": "T46U"}
        ),
        Variant(
            "target's key profile",
            lambda t, o: {"mac": FREE_MAC, "model": "T46U", "key_profile": t.key_profile},
        ),
        Variant(
            "target's SIP user name",
            lambda t, o: {
                "mac": FREE_MAC,
                "model": "T46U",
                "sip_accounts": [{"line": 1, "user_name": t.sip_user, "password": "pw-1"}],
            },
        ),
        foreign_mac(
            "target's MAC", lambda t, o: {"mac": format_mac(t.mac), "model": "T46U"}, "/mac"
        ),
    ),
    "devices_retrieve": (),
    "devices_update": PHONE_CHANGES,
    "devices_partial_update": PHONE_CHANGES,
    "devices_destroy": (),
    "devices_choices_retrieve": (),
    "devices_choices_update": CHOICES,
    "devices_choices_partial_update": CHOICES,
    "devices_config_retrieve": (),
    "devices_bulk_create": (
        Variant(
            "into target",
            lambda t, o: {"devices": [{"organisation": t.slug, "mac": FREE_MAC, "model": "T46U"}]},
        ),
        Variant(
            "target's key profile",
            lambda t, o: {
                "devices": [{"mac": FREE_MAC, "model": "T46U", "key_profile": t.key_profile}]
            },
        ),
        foreign_mac(
            "target's MAC",
            lambda t, o: {"devices": [{"mac": t.mac.upper(), "model": "T46U", "label": "Mine"}]},
            "/devices/0/mac",
        ),
    ),
    "organisations_list": (),
    "organisations_create": (
        Variant("target's slug", lambda t, o: {**ORGANISATION, "slug": t.slug}),
    ),
    "organisations_retrieve": (),
    "organisations_update": (Variant("take over", lambda t, o: {**ORGANISATION, "slug": t.slug}),),
    "organisations_partial_update": (Variant("rename", lambda t, o: {"name": "Taken"}),),
    "organisations_destroy": (),
    "organisations_choices_retrieve": (),
    "organisations_choices_update": CHOICES,
    "organisations_choices_partial_update": CHOICES,
    "organisations_rps_sync_retrieve": (),
    "organisations_rps_sync_create": (),
    "phonebooks_list": (),
    "phonebooks_create": (
        Variant(
            "into target", lambda t, o: {"organisation": t.slug, "name": "Mine", "title": "Mine"}
        ),
        Variant("target's name", lambda t, o: {"name": t.phonebook_name, "title": "Mine"}),
        Variant(
            "for target's phone",
            lambda t, o: {
                "name": "Mine",
                "title": "Mine",
                "audience": "chosen",
                "devices": [t.mac],
            },
        ),
    ),
    "phonebooks_retrieve": (),
    "phonebooks_update": BOOK_CHANGES,
    "phonebooks_partial_update": BOOK_CHANGES,
    "phonebooks_destroy": (),
    "phonebooks_contacts_list": (),
    "phonebooks_contacts_create": (
        Variant("add", lambda t, o: {"name": "Mine", "number_1": "100"}),
    ),
    "phonebooks_contacts_replace": (
        Variant("replace", lambda t, o: {"contacts": [{"name": "Mine", "number_1": "100"}]}),
    ),
    "phonebooks_contacts_retrieve": IN_OWN_BOOK,
    "phonebooks_contacts_update": CONTACT_CHANGES,
    "phonebooks_contacts_partial_update": CONTACT_CHANGES,
    "phonebooks_contacts_destroy": IN_OWN_BOOK,
    "wallpapers_list": (),
    "wallpapers_create": WALLPAPERS["create"],
    "wallpapers_retrieve": (),
    "wallpapers_partial_update": WALLPAPERS["partial_update"],
    "wallpapers_destroy": (),
    "ringtones_list": (),
    "ringtones_create": RINGTONES["create"],
    "ringtones_retrieve": (),
    "ringtones_partial_update": RINGTONES["partial_update"],
    "ringtones_destroy": (),
    "key_profiles_list": (),
    "key_profiles_create": (
        Variant("into target", lambda t, o: {"organisation": t.slug, "name": "Mine"}),
        Variant("target's name", lambda t, o: {"name": t.key_profile}),
    ),
    "key_profiles_retrieve": (),
    "key_profiles_update": KEY_PROFILE_CHANGES,
    "key_profiles_partial_update": KEY_PROFILE_CHANGES,
    "key_profiles_destroy": (),
    "settings_profiles_list": (),
    "settings_profiles_create": (Variant("add", lambda t, o: {"name": "Mine"}),),
    "settings_profiles_retrieve": (),
    "settings_profiles_update": (Variant("rename", lambda t, o: {"name": "Taken"}),),
    "settings_profiles_partial_update": (Variant("rename", lambda t, o: {"name": "Taken"}),),
    "settings_profiles_destroy": (),
    "unassigned_phones_list": (),
    "unassigned_phones_retrieve": (),
    "unassigned_phones_destroy": (),
    "unassigned_phones_assign_create": (
        Variant("assign", lambda t, o: {"model": "T46U", "label": "Mine"}),
        foreign_mac(
            "own phone with target's MAC",
            lambda t, o: {"label": "Mine"},
            "/mac",
            setup=_own_unassigned_with_targets_mac,
        ),
    ),
}

# Cases that show, change or confirm beta's data today: (operation, token) -> what leaks.
# Each stays a failing assertion (xfail, strict) until the app is fixed.
# Known leaks or faults, each marked xfail(strict=True) until fixed (none now: OPTIONS on a
# book's contacts was a 500 until OPTIONS became 405 for every route).
LEAKS: dict[tuple[str, str], str] = {}


# --- the schema ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the schema's template: /api/v1/devices/{mac}
    operation_id: str
    path_parameters: tuple[str, ...]
    query_parameters: tuple[str, ...]
    has_body: bool


@functools.cache
def schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the schema, and an OPTIONS of each of its paths (DRF answers it
    on every route, with the fields a write takes)."""
    found = []
    for path, methods in schema()["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=operation["operationId"],
                    path_parameters=_named(parameters, "path"),
                    query_parameters=_named(parameters, "query"),
                    has_body="requestBody" in operation,
                )
            )
        found.append(Operation("OPTIONS", path, f"options {path}", _in_path(path), (), False))
    return tuple(found)


def _named(parameters: list[dict[str, Any]], where: str) -> tuple[str, ...]:
    return tuple(p["name"] for p in parameters if p["in"] == where)


def _in_path(path: str) -> tuple[str, ...]:
    return tuple(re.findall(r"{(\w+)}", path))


def path_object(path: str, parameter: str) -> str | None:
    """Which of the Names fills `{parameter}` in `path` (by the segment before it)."""
    segments = path.removeprefix(PREFIX).split("/")
    index = segments.index("{" + parameter + "}")
    before = segments[index - 1] if index else ""
    return PATH_OBJECTS.get((before, parameter))


def unknown(operation: Operation) -> list[str]:
    """What the walk could not fill: each must be added to the tables above."""
    problems = []
    if not operation.path.startswith(PREFIX):
        problems.append(f"{operation.path}: outside {PREFIX}")
    for parameter in operation.path_parameters:
        if (
            parameter not in _in_path(operation.path)
            or path_object(operation.path, parameter) is None
        ):
            problems.append(f"{operation.path}: path parameter {parameter!r} not in PATH_OBJECTS")
    for parameter in operation.query_parameters:
        if parameter not in QUERY:
            problems.append(f"{operation.operation_id}: query parameter {parameter!r} not in QUERY")
    if operation.method == "OPTIONS":
        return problems
    if operation.operation_id not in OPERATIONS:
        problems.append(
            f"{operation.method} {operation.path}: {operation.operation_id} not in OPERATIONS"
        )
    elif operation.has_body and not any(v.body for v in OPERATIONS[operation.operation_id]):
        problems.append(f"{operation.operation_id}: takes a body and OPERATIONS sends none")
    return problems


def variants(operation: Operation) -> tuple[Variant, ...]:
    given = () if operation.method == "OPTIONS" else OPERATIONS[operation.operation_id]
    plain = given or (Variant(),)
    if operation.method != "GET":
        return plain
    queries = [
        Variant(f"?{name}", query=(name, value))
        for name in operation.query_parameters
        if (value := QUERY[name]) is not None
    ]
    return (*plain, *queries)


# --- the world: alpha, and a rich beta -----------------------------------------------------


@dataclass
class World:
    alpha: Organisation
    beta: Organisation
    alpha_names: Names
    beta_names: Names
    markers: dict[str, tuple[str, ...]]  # beta's, by what they are: texts, any of which shows it
    tokens: dict[str, Api]
    beta_rows: dict[str, list[Any]] = field(default_factory=dict)  # before any request
    alpha_rows: dict[str, list[Any]] = field(default_factory=dict)


def _stored(model: type[Wallpaper] | type[Ringtone], organisation, name: str, **fields) -> Any:
    """A wallpaper or ringtone as the admin stores it (its files checked once, here)."""
    item: Wallpaper | Ringtone
    if model is Wallpaper:
        item = Wallpaper(organisation=organisation, name=name, width=64, height=48, **fields)
        item.set_content(png_bytes(), "image/png")
    else:
        codec = inspect_wav(wav_bytes()).codec
        item = Ringtone(organisation=organisation, name=name, codec=codec, **fields)
        item.set_content(wav_bytes(), "audio/wav")
    item.save()
    return item


def build_beta(tenant_b) -> tuple[Names, dict[str, tuple[str, ...]]]:
    """Beta with one of everything an organisation can have, each with a marker of its own."""
    beta = tenant_b.organisation
    desk = tenant_b.device
    lobby = make_device(beta, "001565bbbb02", model="T46U", label="Marmot lobby")
    make_account(
        lobby, 1, user_name="quokka202", password="quokka-pass-202", display_name="Quokka Front"
    )
    keys = KeyProfile.objects.create(
        pk=BETA_IDS["key_profile_id"], organisation=beta, name="Pangolin keys"
    )
    # The provider's, chosen for beta: what organisation tokens may not read at all.
    beta.profile = SettingsProfile.objects.create(
        pk=BETA_IDS["settings_profile"], name="Wombat profile"
    )
    beta.save()
    ProfileKey.objects.create(
        profile=keys, position=1, type=KeyType.BLF, value="73017301", label="Pangolin BLF"
    )
    lobby.key_profile = keys
    lobby.save()
    LineKey.objects.create(
        device=lobby, position=2, type=KeyType.SPEED_DIAL, value="88112233", label="Axolotl"
    )
    RpsDeviceState.objects.create(
        mac=lobby.mac,
        device=lobby,
        organisation=beta,
        rps_id="rps-tapir-42",
        status="failed",
        last_error="Tapir trouble",
        server_rps_id="srv-tapir",
    )
    RpsServerState.objects.create(
        organisation=beta,
        server_name="tapir-srv",
        rps_id="srv-tapir",
        last_error="Tapir refusal",
        last_error_detail="tapir said no",
    )
    book = Phonebook.objects.create(
        pk=BETA_IDS["phonebook"],
        organisation=beta,
        name="Walrus directory",
        title="Walrus Co",
        audience="chosen",
    )
    book.devices.set([desk])
    Contact.objects.create(
        pk=BETA_IDS["contact"], phonebook=book, name="Zanzibar Quill", number_1="+442079460123"
    )
    wallpaper = _stored(Wallpaper, beta, "narwhal.png", pk=BETA_IDS["wallpaper"])
    ringtone = _stored(Ringtone, beta, "ocelot.wav", pk=BETA_IDS["ringtone"])
    OrganisationMedia.objects.create(organisation=beta, wallpaper=wallpaper, ringtone=ringtone)
    DeviceMedia.objects.create(device=desk, wallpaper=wallpaper, ringtone=ringtone)
    UnassignedPhone.objects.create(
        pk=BETA_IDS["unassigned"],
        organisation=beta,
        mac="001565bbbb09",
        model="T46U",
        firmware="66.86.0.15",
        user_agent="Yealink SIP-T46U 66.86.0.15 00:15:65:bb:bb:09",
        ip="203.0.113.79",
    )
    AccessLog.objects.create(
        pk=BETA_IDS["access_log"],
        ip="203.0.113.77",
        user_agent=user_agent(desk, model="T46U"),
        path="/quetzal-boot.cfg",
        mac=desk.mac,
        username="bravo-quetzal",
        organisation=beta,
        device=desk,
        outcome="success",
        status_code=200,
    )
    names = Names(
        slug=beta.slug,
        mac=desk.mac,
        key_profile=keys.name,
        phonebook_name=book.name,
        wallpaper_name=wallpaper.name,
        ringtone_name=ringtone.name,
        sip_user="b201",
        **BETA_IDS,
    )
    markers: dict[str, tuple[str, ...]] = {
        "slug or name": (beta.slug, beta.name),
        "provisioning password": (beta.provisioning_password,),
        "SIP server": (beta.sip_server_host,),
        "desk phone's MAC": tuple(notations(desk.mac)),
        "lobby phone's MAC": tuple(notations(lobby.mac)),
        "unassigned phone's MAC": tuple(notations("001565bbbb09")),
        "desk phone's label": ("Bravo desk",),
        "lobby phone's label": ("Marmot lobby",),
        "provider's settings profile": ("Wombat profile",),
        "SIP user name b201": ("b201",),
        "SIP password": ("bravo-sip-201",),
        "SIP user name quokka202": ("quokka202",),
        "SIP password quokka": ("quokka-pass-202",),
        "SIP display name": ("Quokka Front",),
        "key profile": ("Pangolin keys",),
        "key profile's key": ("Pangolin BLF", "73017301"),
        "line key": ("Axolotl", "88112233"),
        "RPS state": ("rps-tapir-42", "Tapir trouble", "srv-tapir", "tapir-srv", "Tapir refusal"),
        "RPS detail": ("tapir said no",),
        "phonebook": ("Walrus directory", "Walrus Co"),
        "contact": ("Zanzibar Quill", "+442079460123"),
        "wallpaper": ("narwhal.png",),
        "ringtone": ("ocelot.wav",),
        "access log": ("quetzal", "203.0.113.77"),
        "unassigned phone's address": ("203.0.113.79",),
    }
    for kind, pk in BETA_IDS.items():
        markers[f"{kind} id"] = (str(pk),)
    return names, markers


def build_alpha(tenant_a, tenant_b) -> Names:
    """Alpha's own objects, for the paths that name them."""
    alpha = tenant_a.organisation
    book = Phonebook.objects.create(organisation=alpha, name="Alpha book", title="Alpha")
    contact = Contact.objects.create(phonebook=book, name="Alpha Person", number_1="200")
    wallpaper = _stored(Wallpaper, alpha, "alpha.png")
    ringtone = _stored(Ringtone, alpha, "alpha.wav")
    unassigned = UnassignedPhone.objects.create(
        organisation=alpha, mac="805ec0aaaa09", model="T54W"
    )
    log = AccessLog.objects.create(
        path="/alpha.cfg",
        mac=tenant_a.device.mac,
        organisation=alpha,
        device=tenant_a.device,
        outcome="success",
        status_code=200,
    )
    own_keys = KeyProfile.objects.create(organisation=alpha, name="Alpha keys")
    # A phone that came from beta: RPS still has it on beta's server until the next sync.
    RpsDeviceState.objects.create(
        mac=tenant_a.device.mac,
        device=tenant_a.device,
        organisation=tenant_b.organisation,
        server_rps_id="srv-tapir",
        rps_id="rps-moved-1",
        status="registered",
        last_error_detail="tapir said no",
    )
    return Names(
        slug=alpha.slug,
        mac=tenant_a.device.mac,
        phonebook=book.pk,
        contact=contact.pk,
        wallpaper=wallpaper.pk,
        ringtone=ringtone.pk,
        unassigned=unassigned.pk,
        access_log=log.pk,
        key_profile_id=own_keys.pk,
        settings_profile=BETA_IDS["settings_profile"],
        key_profile="Alpha keys",
        phonebook_name=book.name,
        wallpaper_name=wallpaper.name,
        ringtone_name=ringtone.name,
        sip_user="a101",
    )


def personas() -> tuple[Tenant, Tenant]:
    """Alpha and beta as tests/conftest.py's tenant_a and tenant_b make them (built here
    once for the module, where those fixtures are made for each test)."""
    alpha = make_organisation("alpha")
    desk_a = make_device(alpha, "805ec0aaaa01", model="T54W", label="Alpha desk")
    accounts_a = [
        make_account(desk_a, 1, user_name="a101", password="alpha-sip-101"),
        make_account(desk_a, 2, user_name="a102", password="alpha-sip-102"),
    ]
    beta = make_organisation("bravo")
    desk_b = make_device(beta, "001565bbbb01", model="T46U", label="Bravo desk")
    accounts_b = [make_account(desk_b, 1, user_name="b201", password="bravo-sip-201")]
    return Tenant(alpha, desk_a, accounts_a), Tenant(beta, desk_b, accounts_b)


def build_world() -> World:
    tenant_a, tenant_b = personas()
    alpha_names = build_alpha(tenant_a, tenant_b)  # first: its rows get the small ids
    _stored(Wallpaper, None, "shared-lynx.png")  # the provider's, every organisation's to use
    _stored(Ringtone, None, "shared-lynx.wav")
    beta_names, markers = build_beta(tenant_b)
    world = World(
        alpha=tenant_a.organisation,
        beta=tenant_b.organisation,
        alpha_names=alpha_names,
        beta_names=beta_names,
        markers=markers,
        tokens={
            "read-write": api_client(tenant_a.organisation),
            "read-only": api_client(tenant_a.organisation, read_only=True),
        },
    )
    world.beta_rows, world.alpha_rows = rows_of(world.beta), rows_of(world.alpha)
    for api in world.tokens.values():
        api.client.raise_request_exception = False  # a fault is an answer to judge: 500
    return world


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once: the walk's hundreds of requests each run in a savepoint rolled back, so
    they share it. Its own transaction is rolled back after the module's last test."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(module_world: World, db, settings) -> World:
    settings.API_REQUESTS_PER_MINUTE = 0  # hundreds of requests a minute, by design
    return module_world


# --- the rows an organisation has ----------------------------------------------------------


@functools.cache
def watched() -> tuple[tuple[type[models.Model], str, bool], ...]:
    """(model, lookup to the organisation, shared) for each registered model with a path,
    and each other model with a foreign key to Organisation (the provider's records of it)."""
    found: dict[tuple[type[models.Model], str], bool] = {}
    for scope in scoped_models():
        if scope.path is not None:
            found[(scope.model, scope.path or "pk")] = scope.shared
    for model in apps.get_models():
        for column in model._meta.concrete_fields:
            if column.is_relation and column.related_model is Organisation:
                found.setdefault((model, column.name), False)
    return tuple((model, lookup, shared) for (model, lookup), shared in found.items())


Statement = tuple[str, str, tuple[Any, ...]]  # what it reads, its SQL, its parameters


@functools.cache
def statements(organisation_pk: int) -> tuple[Statement, ...]:
    """What reads every row of the organisation's, each column and many-to-many link, and
    the shared rows (organisation null) of shared models, which only the provider may
    change. Compiled once: the walk reads them after every request."""
    found = []
    for model, lookup, shared in watched():
        rows = model._default_manager.filter(**{lookup: organisation_pk})
        found += _reads(f"{model._meta.label} by {lookup}", rows)
        if shared:
            everyone = model._default_manager.filter(**{f"{lookup}__isnull": True})
            found += _reads(f"{model._meta.label}, shared", everyone)
    return tuple(found)


# Columns a request may write without changing anything of anyone's: when a token was
# last used (api/auth.py notes it on every request, at most once a minute).
VOLATILE = {("api.ApiToken", "last_used_at")}


def _reads(name: str, queryset: models.QuerySet[Any]) -> list[Statement]:
    meta = queryset.model._meta
    columns = [
        column.attname
        for column in meta.concrete_fields
        if (meta.label, column.attname) not in VOLATILE
    ]
    queries = [(name, queryset.order_by("pk").values_list(*columns))]
    for m2m in meta.many_to_many:
        queries.append((f"{name}, {m2m.name}", queryset.order_by("pk").values_list("pk", m2m.name)))
    return [(what, *query.query.sql_with_params()) for what, query in queries]


def rows_of(organisation: Organisation) -> dict[str, list[Any]]:
    """The organisation's rows as the database has them (raw: no field decrypts a secret)."""
    rows = {}
    with connection.cursor() as cursor:
        for what, sql, params in statements(organisation.pk):
            cursor.execute(sql, params)
            rows[what] = [tuple(_plain(value) for value in row) for row in cursor.fetchall()]
    return rows


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


# --- one request ---------------------------------------------------------------------------


@dataclass
class Sent:
    """A request and what came of it, judged in the savepoint it ran in."""

    text: str  # what the request carried (path, query, body), lower case: echoes are allowed
    response: Any
    beta_changes: list[str]  # the tables where beta's rows differ after the request
    alpha_changes: list[str]  # watched when the request names alpha's own objects
    attempts: list[str]  # MACs recorded as alpha's tries of another organisation's


def send(world: World, api: Api, operation: Operation, variant: Variant, target: Names) -> Sent:
    own = world.alpha_names
    with transaction.atomic():
        filled = variant.setup(world, target) if variant.setup else {}
        beta_before = rows_of(world.beta) if variant.setup else world.beta_rows
        own_side = target is own  # only then are alpha's rows the ones to watch
        alpha_before = rows_of(world.alpha) if variant.setup and own_side else world.alpha_rows
        path = _path(operation, variant, target, own, filled)
        query = {}
        if variant.query:
            name, value = variant.query
            query[name] = (
                _value(getattr(target, value[1:]), value[1:]) if value.startswith("@") else value
            )
        body = variant.body(target, own) if variant.body else None
        response = _call(api, operation.method, path, query, body, variant.multipart)
        sent = Sent(
            text=_request_text(path, query, body),
            response=response,
            beta_changes=changed(beta_before, rows_of(world.beta)),
            alpha_changes=changed(alpha_before, rows_of(world.alpha)) if own_side else [],
            attempts=list(
                ForeignMacAttempt.objects.filter(organisation=world.alpha).values_list(
                    "macs", flat=True
                )
            ),
        )
        transaction.set_rollback(True)
    return sent


def _path(
    operation: Operation, variant: Variant, target: Names, own: Names, filled: dict[str, str]
) -> str:
    path = operation.path
    for parameter in operation.path_parameters:
        kind = path_object(path, parameter)
        assert kind is not None
        names = own if parameter in variant.own else target
        value = filled.get(parameter) or _value(getattr(names, kind), kind)
        path = path.replace("{" + parameter + "}", value)
    return path


def _value(value: Any, kind: str) -> str:
    return format_mac(value) if kind == "mac" else str(value)


def _call(
    api: Api, method: str, path: str, query: dict[str, str], body: Any, multipart: bool
) -> Any:
    if method == "GET":
        return api.get(path, query)
    if method == "DELETE":
        return api.delete(path)
    if method == "OPTIONS":
        return api.client.options(path, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    if multipart:
        return api.upload(path, body, method=method.lower())
    return api.send(method, path, body)


def _request_text(path: str, query: dict[str, str], body: Any) -> str:
    def plain(value: Any) -> Any:
        return value.name if isinstance(value, SimpleUploadedFile) else str(value)

    return " ".join([path, json.dumps(query), json.dumps(body, default=plain)]).lower()


# --- the oracles ---------------------------------------------------------------------------


def shown(world: World, sent: Sent, allowed: tuple[str, ...] = ()) -> list[str]:
    """Beta's markers in the answer that the request did not send itself."""
    answer = (sent.response.content.decode("utf-8", "replace") + _headers(sent.response)).lower()
    found = []
    for what, texts in world.markers.items():
        if what in allowed or any(text.lower() in sent.text for text in texts):
            continue
        if any(text.lower() in answer for text in texts):
            found.append(what)
    return found


def _headers(response: Any) -> str:
    return " ".join(f"{name}: {value}" for name, value in response.items())


def changed(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return [table for table in before if before[table] != after[table]]


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def normalised(response: Any, names: Names) -> tuple[int, str, Any]:
    """The answer with this side's names, its new rows' ids and the times replaced."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = response.content.decode("utf-8", "replace")
    # Times first: a new row's id (12, say) must not be replaced inside a date (2026-12-03).
    substitutions = [(TIME, "<time>"), *names.substitutions()]
    substitutions += [(re.compile(whole(pk)), "<new id>") for pk in _ids(body)]
    return response.status_code, response.get("Content-Type", ""), _replaced(body, substitutions)


def _ids(body: Any) -> set[int]:
    if isinstance(body, dict):
        found = {body["id"]} if isinstance(body.get("id"), int) else set()
        return found.union(*(_ids(value) for value in body.values()))
    if isinstance(body, list):
        return set().union(*(_ids(item) for item in body))
    return set()


def _replaced(body: Any, substitutions: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(body, dict):
        return {
            _replaced(key, substitutions): "<id>"
            if key == "id"
            else _replaced(value, substitutions)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_replaced(item, substitutions) for item in body]
    if isinstance(body, str):
        for pattern, placeholder in substitutions:
            body = pattern.sub(placeholder, body)
    return body


def refused_as_the_admin_refuses(world: World, sent: Sent, pointer: str) -> list[str]:
    """FOREIGN_MAC: the admin's refusal, naming nothing of beta's but the MAC alpha gave
    (or its phone sent), and recorded for the provider."""
    problems = []
    mac = world.beta_names.mac
    expected = {"pointer": pointer, "code": "cannot_add", "message": foreign_macs.cannot_add(mac)}
    body = _json(sent.response)
    if sent.response.status_code != 400 or expected not in body.get("errors", []):
        problems.append(f"not the admin's refusal {expected}: {sent.response.status_code} {body}")
    if not any(mac in attempt.split() for attempt in sent.attempts):
        problems.append("the try of another organisation's MAC was not recorded")
    leaked = shown(world, sent, allowed=("desk phone's MAC",))
    if leaked:
        problems.append(f"shows beta's {', '.join(leaked)}")
    return problems


def _json(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- the walk ------------------------------------------------------------------------------


TOKENS = ("read-write", "read-only")


def _cases() -> list[Any]:
    cases = []
    for operation in operations():
        if unknown(operation):
            continue  # test_the_walk_knows_every_operation_of_the_schema says which
        for token in TOKENS:
            leak = LEAKS.get((operation.operation_id, token))
            marks = [pytest.mark.xfail(strict=True, reason=leak)] if leak else []
            name = f"{operation.method} {operation.path} {token}"
            cases.append(pytest.param(operation, token, id=name, marks=marks))
    return cases


def test_the_walk_knows_every_operation_of_the_schema() -> None:
    problems = [problem for operation in operations() for problem in unknown(operation)]
    in_schema = {operation.operation_id for operation in operations()}
    problems += [
        f"OPERATIONS names {name}, which the schema has not"
        for name in OPERATIONS.keys() - in_schema
    ]
    assert not problems, "\n".join(problems)


def test_every_route_of_the_api_is_in_the_schema() -> None:
    """A route left out of the schema (extend_schema(exclude=True)) would escape the walk.
    (drf-spectacular names a `pk` parameter `id`.)"""
    from api.urls import router

    routed = set()
    for pattern in router.urls:
        regex = pattern.pattern.regex.pattern.removeprefix("^").removesuffix("$")
        path = PREFIX + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex).replace("{pk}", "{id}")
        for method in getattr(pattern.callback, "actions", {}):
            if method.upper() not in ("HEAD", "OPTIONS"):
                routed.add(f"{method.upper()} {path}")
    in_schema = {f"{o.method} {o.path}" for o in operations() if o.method != "OPTIONS"}
    assert routed == in_schema


@pytest.mark.parametrize(("operation", "token"), _cases())
def test_alphas_tokens_neither_show_change_nor_confirm_betas_data(
    world: World, operation: Operation, token: str
) -> None:
    problems = []
    for variant in variants(operation):
        found = judged(world, world.tokens[token], operation, variant, token)
        problems += [f"{variant.name}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


def judged(world: World, api: Api, operation: Operation, variant: Variant, token: str) -> list[str]:
    """What is wrong with the variant's requests: naming beta's objects, and GHOST's."""
    beta = send(world, api, operation, variant, world.beta_names)
    ghost = send(world, api, operation, variant, GHOST)
    problems = faults(("beta", beta), ("ghost", ghost))
    problems += [f"changes beta's {table}" for table in beta.beta_changes]
    problems += [f"changes beta's {table} (ghost)" for table in ghost.beta_changes]
    if token == "read-write" and variant.differs:
        return problems + refusal_problems(world, beta, ghost, variant.refused_at)
    problems += [f"shows beta's {what}" for what in shown(world, beta)]
    problems += [f"shows beta's {what} (ghost)" for what in shown(world, ghost)]
    seen, unseen = normalised(beta.response, world.beta_names), normalised(ghost.response, GHOST)
    if seen != unseen:
        problems.append(f"confirms beta's objects:\n  beta:  {seen}\n  ghost: {unseen}")
    if operation.method in SAFE and operation.path_parameters:
        problems += own_view(world, api, operation, variant)
    elif token == "read-only" and operation.method not in SAFE:
        problems += read_only_refusals(world, api, operation, variant, beta)
    return problems


def faults(*sides: tuple[str, Sent]) -> list[str]:
    """A fault is no answer to judge (and a fault's page must not be what tells)."""
    return [
        f"{side}: answers {sent.response.status_code}"
        for side, sent in sides
        if sent.response.status_code >= 500
    ]


def refusal_problems(world: World, beta: Sent, ghost: Sent, pointer: str) -> list[str]:
    problems = refused_as_the_admin_refuses(world, beta, pointer)
    if ghost.response.status_code >= 300:  # FOREIGN_MAC: why the answers differ
        problems.append(f"a MAC nobody has was not added: {ghost.response.content!r}")
    return problems


def own_view(world: World, api: Api, operation: Operation, variant: Variant) -> list[str]:
    """Alpha's own objects, as alpha sees them, hold nothing of beta's either."""
    own = send(world, api, operation, variant, world.alpha_names)
    problems = faults(("alpha's own", own))
    problems += [f"shows beta's {what} (alpha's own)" for what in shown(world, own)]
    return problems + [f"changes beta's {table} (alpha's own)" for table in own.beta_changes]


def read_only_refusals(
    world: World, api: Api, operation: Operation, variant: Variant, beta: Sent
) -> list[str]:
    """A read-only token's write is refused, on beta's objects and on alpha's own."""
    own = send(world, api, operation, variant, world.alpha_names)
    problems = [
        f"{side}: not refused as read-only: {why}"
        for side, why in (
            ("beta", not_read_only_refusal(beta)),
            ("alpha's own", not_read_only_refusal(own)),
        )
        if why
    ]
    return problems + [f"changes alpha's {table}" for table in own.alpha_changes]


def not_read_only_refusal(sent: Sent) -> str:
    """Why the answer is not the read-only token's 403, or ""."""
    response = sent.response
    if response.status_code == 403 and _json(response).get("code") == "read_only_token":
        return ""
    return f"{response.status_code} {response.content!r}"


def test_alphas_token_may_not_change_the_providers_shared_files(world: World) -> None:
    """Shared files are every organisation's to see and use, the provider's to change."""
    api = world.tokens["read-write"]
    for model, resource in ((Wallpaper, "wallpapers"), (Ringtone, "ringtones")):
        shared = model.objects.get(organisation=None)
        url = f"{PREFIX}{resource}/{shared.pk}"
        assert api.get(url).status_code == 200
        for response in (api.patch(url, {"name": "mine" + shared.name[-4:]}), api.delete(url)):
            assert response.status_code == 403, response.content
            assert response.json()["code"] == "shared_object"
    assert rows_of(world.beta) == world.beta_rows


# What a provider token does with beta's data, which every oracle must catch: were the walk
# blind, it would pass an organisation token that sees everything too.
PROVIDER_SEES = {
    ("devices_list", "plain"): ("shows",),
    ("devices_retrieve", "plain"): ("shows", "confirms"),
    ("access_log_list", "?mac"): ("shows", "confirms"),
    ("devices_create", "into target"): ("changes", "confirms"),
    ("organisations_partial_update", "rename"): ("changes", "confirms"),
    ("phonebooks_contacts_destroy", "plain"): ("changes", "confirms"),
}


def test_the_oracles_catch_a_token_that_sees_and_changes_beta(world: World) -> None:
    provider = api_client(None)
    provider.client.raise_request_exception = False
    judged_cases = 0
    for operation in operations():
        for variant in variants(operation):
            expected = PROVIDER_SEES.get((operation.operation_id, variant.name))
            if expected is None:
                continue
            found = judged(world, provider, operation, variant, "read-write")
            caught = {oracle for oracle in expected if any(f"{oracle} beta's" in p for p in found)}
            assert caught == set(expected), (operation.operation_id, variant.name, found)
            judged_cases += 1
    assert judged_cases == len(PROVIDER_SEES)
