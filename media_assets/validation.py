"""What an uploaded wallpaper, ringtone, certificate or softkey file really is.

Plain functions over bytes or text, no HTTP and no models: each returns what it learned
(format, size, duration, …) or raises ValidationError saying what is wrong, so the admin can
tell the uploader what to fix. Limits come from yealink.md §5.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from lxml import etree
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

MB = 1024 * 1024

# What check_size names in its messages, with the article each language wants.
THE_IMAGE = _("the image")
THE_RINGTONE = _("the ringtone")
THE_CERTIFICATE = _("the certificate")
THE_SOFTKEY_FILE = _("the softkey file")
THE_FILE = _("the file")

# Yealink: wallpapers at most 5 MB and 2 megapixels (T46U/T48U/T57W).
WALLPAPER_MAX_BYTES = 5 * MB
WALLPAPER_MAX_PIXELS = 2_000_000
# Pillow format -> (content type, file name extensions).
WALLPAPER_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "PNG": ("image/png", (".png",)),
    "JPEG": ("image/jpeg", (".jpg", ".jpeg")),
    "BMP": ("image/bmp", (".bmp",)),
}

# Yealink documents "a few hundred KB" per ringtone and does not confirm a figure per model.
# 512 KB is 32 s of 16-bit PCM or 64 s of G.711 at 8 kHz: longer than any ring cycle, and
# small enough for the older models and for 10,000 phones fetching it after a power cut.
RINGTONE_MAX_BYTES = 512 * 1024
RINGTONE_CONTENT_TYPE = "audio/wav"
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_MULAW = 7
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
WAVE_CODECS = {
    WAVE_FORMAT_PCM: "PCM",
    WAVE_FORMAT_ALAW: "G.711 A-law",
    WAVE_FORMAT_MULAW: "G.711 µ-law",
}
WAVE_FORMAT_NAMES = {2: "Microsoft ADPCM", 3: "IEEE float", 17: "IMA ADPCM", 49: "GSM 6.10"}
WAVE_FORMAT_NAMES |= {85: "MP3", 0x161: "WMA", WAVE_FORMAT_EXTENSIBLE: "extensible"}

# A certificate is a couple of KB; anything near this is not one certificate.
CERTIFICATE_MAX_BYTES = 64 * 1024

# Call state (the phone's file name, Talking.xml) -> its config key custom_softkey_<key>.url.
# These six are the states Yealink firmware (and the public templates) have a URL key for.
SOFTKEY_CALL_STATES: dict[str, str] = {
    "CallIn": "call_in",
    "Connecting": "connecting",
    "Dialing": "dialing",
    "RingBack": "ring_back",
    "Talking": "talking",
    "CallFailed": "call_failed",
}
# Call state -> the top-level elements its file may hold, one for each sub-state: the
# firmware opens <state>.xml with pugixml and takes child(<sub-state>) of the document
# (yealink.md §4). Read from the firmware's GetSoftkey() of each call screen; the names after
# the first few are of firmware built with its "custom softkey" feature, and Dialing's
# "…Empty" ones are used while nothing has been typed yet.
SOFTKEY_SUB_STATES: dict[str, tuple[str, ...]] = {
    "CallIn": ("CallIn",),
    "Connecting": ("Connecting", "SemiAttendTrans"),
    "Dialing": (
        "Dialing",
        "DialTrans",
        "DialConference",
        "DialDPickup",
        "DialRetrieve",
        "DialForward",
        "DialCallPark",
        "DialGroupCallPark",
        "DialOnHold",
        "DialingEmpty",
        "DialTransEmpty",
        "DialConferenceEmpty",
        "DialDPickupEmpty",
        "DialRetrieveEmpty",
        "DialForwardEmpty",
        "DialCallParkEmpty",
        "DialGroupCallParkEmpty",
    ),
    "RingBack": ("RingBack", "SemiAttendTransBack"),
    "Talking": (
        "Talk",
        "Hold",
        "Held",
        "Conferenced",
        "PreTrans",
        "ConferencedHold",
        "ConferencedNewCallIn",
        "ConferenceManager",
        "NewCallIn",
        "NetworkConferenced",
        "NetworkConferencedHold",
        "ListeningPaging",
        "ListeningPagingHold",
        "Paging",
        "PagingHold",
        "BeTransferred",
    ),
    "CallFailed": ("CallFailed",),
}
_CALL_STATE_OF: dict[str, str] = {
    sub_state: state for state, sub_states in SOFTKEY_SUB_STATES.items() for sub_state in sub_states
}
SOFTKEY_MAX_BYTES = 64 * 1024

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class Refused(ValidationError):
    """A file refused in the uploader's words; `detail` is what the provider may want to know
    besides (a parser's own words, a command that converts it), shown to provider staff only."""

    def __init__(self, message: str, code: str, detail: str = "") -> None:
        super().__init__(message, code=code)
        self.detail = detail


def invalid(message: str, code: str, detail: str = "") -> ValidationError:
    return Refused(message, code, detail)


def detail_of(error: ValidationError) -> str:
    return error.detail if isinstance(error, Refused) else ""


def validate_file_name(name: str) -> None:
    """The name a phone asks for: no spaces, slashes or other characters a URL must escape."""
    if not FILE_NAME.match(name):
        raise invalid(
            gettext(
                "Use letters, digits, '.', '_' and '-' only (at most 64, starting with a letter "
                "or digit): the phone asks for the file by this name in a URL."
            ),
            "file_name",
        )


def human_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return ngettext("%(count)d byte", "%(count)d bytes", size) % {"count": size}


def check_size(data_size: int, limit: int, what: str | Promise) -> None:
    """`what` is the thing with its article ("the image", THE_IMAGE)."""
    if data_size == 0:
        raise invalid(gettext("%(what)s is empty.") % {"what": capfirst(str(what))}, "empty")
    if data_size > limit:
        message = gettext("%(what)s is %(size)s; the limit is %(limit)s.")
        values = {"what": capfirst(str(what)), "size": human_size(data_size)}
        raise invalid(message % {**values, "limit": human_size(limit)}, "too_large")


# --- Wallpapers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: PNG, JPEG, BMP
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return WALLPAPER_FORMATS[self.format][0]

    @property
    def extensions(self) -> tuple[str, ...]:
        return WALLPAPER_FORMATS[self.format][1]


def inspect_image(data: bytes) -> ImageInfo:
    """A wallpaper the phones can show: PNG, JPEG or BMP, whole, within 5 MB and 2 MP."""
    check_size(len(data), WALLPAPER_MAX_BYTES, THE_IMAGE)
    try:
        with Image.open(io.BytesIO(data)) as image:
            info = ImageInfo(image.format or "", image.width, image.height)
            _check_image_header(info, getattr(image, "is_animated", False))
            # Decoding every pixel is what finds a truncated or corrupt body; the header
            # alone looks fine. The size checks above keep this within 2 MP.
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise invalid(
            gettext(
                "This is not an image the phones can show (a renamed or corrupt file?); "
                "upload a PNG, JPEG or BMP."
            ),
            "not_an_image",
        ) from None
    except (OSError, SyntaxError, ValueError, struct.error):
        # Staff read this: the imaging library's own words would mean nothing to them.
        raise invalid(
            gettext("The image is damaged or truncated; export it again."), "corrupt_image"
        ) from None
    return info


def _check_image_header(info: ImageInfo, animated: bool) -> None:
    if info.format not in WALLPAPER_FORMATS:
        message = gettext("This is a %(format)s image; phones take PNG, JPEG or BMP.")
        found = info.format or gettext("unknown")
        raise invalid(message % {"format": found}, "image_format")
    pixels = info.width * info.height
    if pixels > WALLPAPER_MAX_PIXELS:
        message = gettext(
            "The image is %(width)dx%(height)d (%(megapixels)s megapixels); phones take at most "
            "2 megapixels (for example 1600x900). The largest screen is 1024x600."
        )
        values = {"width": info.width, "height": info.height}
        raise invalid(message % {**values, "megapixels": f"{pixels / 1e6:.1f}"}, "too_many_pixels")
    if animated:
        raise invalid(gettext("Animated images are not shown by the phones."), "animated_image")


# --- Ringtones ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavInfo:
    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    data_size: int
    byte_rate: int

    @property
    def codec(self) -> str:
        return WAVE_CODECS.get(self.format_tag) or WAVE_FORMAT_NAMES.get(
            self.format_tag, f"format {self.format_tag}"
        )

    @property
    def duration_seconds(self) -> float:
        return self.data_size / self.byte_rate if self.byte_rate else 0.0


def inspect_wav(data: bytes) -> WavInfo:
    """A ringtone the phones play: a whole WAV file, PCM or G.711, mono, 8 kHz.

    The RIFF chunks are read here because the stdlib `wave` module refuses G.711
    (format tags 6 and 7); PCM files are opened with `wave` as well, as a second opinion.
    """
    check_size(len(data), RINGTONE_MAX_BYTES, THE_RINGTONE)
    info = _read_riff(data)
    problems = _ringtone_problems(info)
    if problems:
        message = gettext(
            "This WAV is %(problems)s; phones play PCM or G.711, mono, 8 kHz. Save it in your "
            "audio program as WAV, 16-bit PCM, mono, 8000 Hz, and upload it again."
        )
        detail = pgettext(
            "provider", "To convert it with SoX: sox in.wav -r 8000 -c 1 -e signed -b 16 out.wav"
        )
        raise invalid(message % {"problems": ", ".join(problems)}, "wav_format", detail)
    if info.format_tag == WAVE_FORMAT_PCM:
        _check_with_wave_module(data)
    return info


def _read_riff(data: bytes) -> WavInfo:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise invalid(
            gettext(
                "This is not a WAV file (no RIFF/WAVE header); a renamed MP3 or other audio "
                "file has to be converted to WAV."
            ),
            "not_wav",
        )
    declared = struct.unpack_from("<I", data, 4)[0] + 8
    if declared > len(data):
        raise _truncated(declared, len(data))
    fmt: tuple[int, int, int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if body + size > len(data):
            raise _truncated(body + size, len(data))
        if chunk_id == b"fmt ":
            fmt = _read_fmt(data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                message = gettext("The WAV has its audio before its format chunk.")
                raise invalid(message, "corrupt_wav")
            return WavInfo(*fmt[:4], data_size=size, byte_rate=fmt[4])
        offset = body + size + (size & 1)  # chunks are padded to an even length
    raise invalid(gettext("The WAV has no audio (no data chunk)."), "corrupt_wav")


def _truncated(expected: int, actual: int) -> ValidationError:
    message = gettext(
        "The WAV is truncated: its header announces %(expected)d bytes, the file has %(actual)d."
    )
    return invalid(message % {"expected": expected, "actual": actual}, "truncated_wav")


def _read_fmt(chunk: bytes) -> tuple[int, int, int, int, int]:
    """(format tag, channels, sample rate, bits per sample, byte rate)."""
    if len(chunk) < 16:
        raise invalid(gettext("The WAV format chunk is too short."), "corrupt_wav")
    tag, channels, rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", chunk)
    if tag == WAVE_FORMAT_EXTENSIBLE and len(chunk) >= 26:
        tag = struct.unpack_from("<H", chunk, 24)[0]  # first two bytes of the sub-format GUID
    return tag, channels, rate, bits, byte_rate


def _ringtone_problems(info: WavInfo) -> list[str]:
    problems = []
    if info.format_tag not in WAVE_CODECS:
        problems.append(gettext("encoded as %(codec)s") % {"codec": info.codec})
    elif info.format_tag == WAVE_FORMAT_PCM and info.bits_per_sample not in (8, 16):
        bits = {"bits": info.bits_per_sample}
        problems.append(gettext("%(bits)d-bit PCM (use 16-bit)") % bits)
    if info.channels != 1:
        channels = ngettext("%(count)d channel", "%(count)d channels", info.channels)
        stereo = info.channels == 2
        problems.append(gettext("stereo") if stereo else channels % {"count": info.channels})
    if info.sample_rate != 8000:
        problems.append(f"{info.sample_rate / 1000:g} kHz")
    if info.data_size == 0:
        problems.append(gettext("silent (no samples)"))
    return problems


def _check_with_wave_module(data: bytes) -> None:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, struct.error):
        message = gettext("The WAV is damaged or truncated; export it again.")
        raise invalid(message, "corrupt_wav") from None


# --- CA certificate -------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateInfo:
    pem: str  # normalised: exactly one PEM block, whatever was uploaded
    sha256: str  # fingerprint of the DER encoding, as browsers and openssl show it
    subject: str
    issuer: str
    not_valid_before: datetime
    not_valid_after: datetime
    is_ca: bool


def inspect_certificate(data: bytes) -> CertificateInfo:
    """One X.509 certificate, PEM or DER, stored as PEM. A private key is refused outright:
    this file is served to anyone."""
    check_size(len(data), CERTIFICATE_MAX_BYTES, THE_CERTIFICATE)
    if b"PRIVATE KEY" in data:
        raise invalid(
            gettext(
                "This file contains a private key. Upload only the certificate: it is "
                "published to every phone, and the key must stay secret (replace it if it has "
                "been shared)."
            ),
            "private_key",
        )
    certificate = _load_certificate(data)
    return CertificateInfo(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        subject=certificate.subject.rfc4514_string()[:255],
        issuer=certificate.issuer.rfc4514_string()[:255],
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
        is_ca=_is_ca(certificate),
    )


def _load_certificate(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
            if len(certificates) != 1:
                raise _several_certificates(len(certificates))
            return certificates[0]
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        # The library's own words mean nothing to staff: they go to the log and the provider.
        logger.warning("Certificate upload refused: %s", exc)
        raise invalid(
            gettext(
                "This file is not a certificate we can read. Upload the CA certificate on its "
                "own, as a PEM file (text starting with -----BEGIN CERTIFICATE-----) or a DER "
                "file."
            ),
            "not_a_certificate",
            pgettext("provider", "The X.509 parser (cryptography) said: %(error)s")
            % {"error": exc},
        ) from None


def _several_certificates(count: int) -> ValidationError:
    message = ngettext(
        "The file holds %(count)d certificate; upload the one CA certificate the phones must "
        "trust.",
        "The file holds %(count)d certificates; upload the one CA certificate the phones must "
        "trust.",
        count,
    )
    return invalid(message % {"count": count}, "several_certificates")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# --- Softkey XML ----------------------------------------------------------------------------


def inspect_softkey_xml(text: str) -> str:
    """A custom softkey layout: well-formed XML without DTD or entities whose top-level
    elements are sub-states of one call state; a fragment of several is what the phone reads
    for Talking, RingBack, Dialing and Connecting.

    Returns the call state. The text itself is stored and served unchanged.
    """
    data = text.encode("utf-8")
    check_size(len(data), SOFTKEY_MAX_BYTES, THE_SOFTKEY_FILE)
    fragment = _parse_fragment(data)
    return _softkey_call_state(_top_level_names(fragment))


# What may only come first, so the wrapper element goes in after it: a byte order mark and
# the XML declaration (either may be missing, so this always matches).
_XML_PROLOG_START = re.compile(rb"^(?:\xef\xbb\xbf)?(?:<\?xml\s[^>]*?\?>)?")


def _parse_fragment(data: bytes) -> etree._Element:
    """The file's top-level nodes, as the children of one wrapper element: a strict parser
    then takes the several roots pugixml takes, and everything else stays refused (a DOCTYPE
    is not allowed inside an element, an entity is then undeclared, a stray end tag breaks
    the wrapper)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        wrapper = etree.fromstring(_wrapped(data), parser)
    except etree.XMLSyntaxError as exc:
        raise _not_well_formed(data, exc) from None
    _check_encoding(wrapper.getroottree().docinfo.encoding)
    return wrapper


def _wrapped(data: bytes) -> bytes:
    prolog = _XML_PROLOG_START.match(data)
    split = prolog.end() if prolog else 0  # it always matches, if only the empty string
    return data[:split] + b"<softkeys>" + data[split:] + b"</softkeys>"


_UNDECLARED_ENTITY = re.compile(r"Entity '([^']*)' not defined")


def _not_well_formed(data: bytes, exc: etree.XMLSyntaxError) -> ValidationError:
    if b"<!DOCTYPE" in data:
        return invalid(gettext("Remove the DOCTYPE: phones need no DTD or entities."), "xml_dtd")
    # The parser's own words name our wrapper element and its internals: log and provider.
    logger.warning("Softkey XML refused: %s", exc)
    detail = pgettext("provider", "The XML parser (lxml) said: %(error)s") % {"error": exc}
    entity = _UNDECLARED_ENTITY.search(exc.msg or "")
    if getattr(exc, "code", None) == etree.ErrorTypes.ERR_UNDECLARED_ENTITY and entity:
        message = gettext(
            "This is not well-formed XML: &%(entity)s; on line %(line)d is not known to the "
            "phones. Write & as &amp; and < as &lt;, or remove it."
        )
        values = {"entity": entity.group(1), "line": exc.lineno}
        return invalid(message % values, "xml_entity", detail)
    message = gettext(
        "This is not well-formed XML: there is a mistake on line %(line)d (a tag that is not "
        "closed or closed in the wrong order, an attribute without quotes, a stray & or <?). "
        "Correct it and save again."
    )
    return invalid(message % {"line": exc.lineno}, "xml_syntax", detail)


def _check_encoding(declared: str | None) -> None:
    if (declared or "UTF-8").upper() not in ("UTF-8", "UTF8"):
        message = gettext(
            'The file declares encoding="%(encoding)s"; it is stored and served as UTF-8, so '
            'declare encoding="UTF-8" (or nothing).'
        )
        raise invalid(message % {"encoding": declared}, "xml_encoding")


def _top_level_names(wrapper: etree._Element) -> list[str]:
    """The names of the file's top-level elements; comments between them are fine."""
    texts = (wrapper.text, *(node.tail for node in wrapper))
    stray = " ".join(text.strip() for text in texts if text and text.strip())
    if stray:
        message = gettext(
            'The file has text outside the sub-state elements ("%(text)s"); '
            "move it into an element or remove it."
        )
        raise invalid(message % {"text": stray[:40]}, "xml_text")
    return [element.tag for element in wrapper.iterchildren(etree.Element)]


def _softkey_call_state(names: list[str]) -> str:
    if names == ["Talking"]:
        # The phone looks up only Talking's sub-states: a <Talking> file would silently
        # leave it with its own softkeys.
        message = gettext(
            "The phone reads Talking.xml by its sub-states and never looks at <Talking>: "
            "put the keys in %(tags)s elements (one per sub-state, side by side) instead."
        )
        raise invalid(message % {"tags": _tags(SOFTKEY_SUB_STATES["Talking"][:5])}, "xml_sub_state")
    states = list(dict.fromkeys(_CALL_STATE_OF[name] for name in names if name in _CALL_STATE_OF))
    if not states:
        raise _no_call_state(names)
    if len(states) > 1:
        raise _mixed_call_states(names, states)
    state = states[0]
    unknown = [name for name in names if name not in SOFTKEY_SUB_STATES[state]]
    if unknown:
        message = ngettext(
            "%(tags)s is not a sub-state of %(state)s; %(state)s.xml may hold %(allowed)s.",
            "%(tags)s are not sub-states of %(state)s; %(state)s.xml may hold %(allowed)s.",
            len(unknown),
        )
        values = {"tags": _tags(unknown), "state": state}
        raise invalid(
            message % {**values, "allowed": _tags(SOFTKEY_SUB_STATES[state])}, "xml_sub_state"
        )
    _check_no_repeats(names)
    return state


def _no_call_state(names: list[str]) -> ValidationError:
    if not names:
        message = gettext(
            "The file has no element; a softkey file holds the sub-states of one call state: "
            "%(states)s (for example <Talk>, <Hold> and <Held> in Talking.xml, <CallIn> in "
            "CallIn.xml)."
        )
    elif len(names) == 1:
        message = gettext(
            "The root element is %(tags)s; a softkey file holds the sub-states of one call "
            "state: %(states)s (for example <Talk>, <Hold> and <Held> in Talking.xml, "
            "<CallIn> in CallIn.xml)."
        )
    else:
        message = gettext(
            "None of %(tags)s is a sub-state; a softkey file holds the sub-states of one call "
            "state: %(states)s (for example <Talk>, <Hold> and <Held> in Talking.xml, "
            "<CallIn> in CallIn.xml)."
        )
    values = {"tags": _tags(names), "states": ", ".join(SOFTKEY_CALL_STATES)}
    return invalid(message % values, "xml_root")


def _mixed_call_states(names: list[str], states: list[str]) -> ValidationError:
    parts = [
        f"{state} ({_tags([name for name in names if _CALL_STATE_OF.get(name) == state])})"
        for state in states
    ]
    message = gettext(
        "This file mixes sub-states of %(states)s; the phone reads one file per call state "
        "(%(files)s): upload each apart."
    )
    values = {"states": gettext(" and ").join(parts)}
    values["files"] = ", ".join(state + ".xml" for state in states)
    return invalid(message % values, "xml_mixed_states")


def _check_no_repeats(names: list[str]) -> None:
    repeated = [name for name in dict.fromkeys(names) if names.count(name) > 1]
    if repeated:
        message = ngettext(
            "%(tags)s is in the file more than once; the phone uses only the first, so remove "
            "the others.",
            "%(tags)s are in the file more than once; the phone uses only the first, so remove "
            "the others.",
            len(repeated),
        )
        raise invalid(message % {"tags": _tags(repeated)}, "xml_repeated")


def _tags(names: Iterable[str]) -> str:
    return ", ".join(f"<{name}>" for name in names)


# What a new softkey file starts with in the admin, and the demo's CallIn.xml.
EXAMPLE_SOFTKEY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CallIn>
  <Enable>
    <Key Type="Answer"/>
    <Key Type="Forward"/>
    <Key Type="Reject"/>
  </Enable>
</CallIn>
"""
