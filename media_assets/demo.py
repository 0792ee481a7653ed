"""Demo media (used by `manage.py loaddemo`), all made in code: no binary files in the repo.

The demo organisation gets a wallpaper `logo.png` and a ringtone `ring.wav`, chosen for its
phones with custom softkeys on; there is a global `CallIn.xml` and a self-signed demo CA.
A second run finds them by name and creates nothing.
"""

from __future__ import annotations

import datetime
import io
import math
import struct
import wave

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw

from media_assets.models import CaCertificate, OrganisationMedia, Ringtone, SoftkeyFile, Wallpaper
from media_assets.validation import (
    EXAMPLE_SOFTKEY_XML,
    RINGTONE_CONTENT_TYPE,
    inspect_certificate,
    inspect_image,
    inspect_softkey_xml,
    inspect_wav,
)
from organisations.models import Organisation

DEMO_CA_LABEL = "Demo CA (self-signed, not for production)"
CALL_IN_XML = EXAMPLE_SOFTKEY_XML
Colour = tuple[float, float, float]  # red, green, blue, as DEMO_ORGANISATIONS says


# Both demo organisations have their own logo.png: each phone gets its organisation's.
# slug -> (RGB of the logo's gradient: a share of the shade, or a fixed value above 1;
# custom softkeys on)
DEMO_ORGANISATIONS: dict[str, tuple[Colour, bool]] = {
    "demo": ((10, 0.5, 1), True),
    "acme": ((0.2, 1, 10), False),
}


def create_demo_data() -> int:
    """Create what is missing; return how many objects were created."""
    created = _softkeys() + _ca_certificate()
    for organisation in Organisation.objects.filter(slug__in=DEMO_ORGANISATIONS):
        colour, softkeys = DEMO_ORGANISATIONS[organisation.slug]
        wallpaper, made_wallpaper = _wallpaper(organisation, colour)
        ringtone, made_ringtone = _ringtone(organisation)
        _, made_choice = OrganisationMedia.objects.get_or_create(
            organisation=organisation,
            defaults={
                "wallpaper": wallpaper,
                "ringtone": ringtone,
                "custom_softkeys_enabled": softkeys,
            },
        )
        created += made_wallpaper + made_ringtone + int(made_choice)
    return created


def _wallpaper(organisation: Organisation, colour: Colour) -> tuple[Wallpaper, int]:
    existing = Wallpaper.objects.filter(organisation=organisation, name="logo.png").defer("content")
    if existing.exists():
        return existing.get(), 0
    data = logo_png(f"{organisation.name} - voipconfig demo", colour)
    info = inspect_image(data)
    wallpaper = Wallpaper(organisation=organisation, name="logo.png")
    wallpaper.set_content(data, info.content_type)
    wallpaper.width, wallpaper.height = info.width, info.height
    wallpaper.save()
    return wallpaper, 1


def _ringtone(organisation: Organisation) -> tuple[Ringtone, int]:
    existing = Ringtone.objects.filter(organisation=organisation, name="ring.wav").defer("content")
    if existing.exists():
        return existing.get(), 0
    data = ring_wav()
    info = inspect_wav(data)
    ringtone = Ringtone(organisation=organisation, name="ring.wav")
    ringtone.set_content(data, RINGTONE_CONTENT_TYPE)
    ringtone.codec = f"{info.codec}, {info.bits_per_sample}-bit"
    ringtone.duration_ms = round(info.duration_seconds * 1000)
    ringtone.save()
    return ringtone, 1


def _softkeys() -> int:
    _, created = SoftkeyFile.objects.get_or_create(
        call_state=inspect_softkey_xml(CALL_IN_XML),
        defaults={"name": "CallIn", "content": CALL_IN_XML},
    )
    return int(created)


def _ca_certificate() -> int:
    if CaCertificate.objects.filter(label=DEMO_CA_LABEL).exists():
        return 0
    info = inspect_certificate(demo_ca_pem())
    CaCertificate.objects.create(
        label=DEMO_CA_LABEL,
        is_active=not CaCertificate.objects.filter(is_active=True).exists(),
        pem=info.pem,
        sha256=info.sha256,
        subject=info.subject,
        issuer=info.issuer,
        not_valid_before=info.not_valid_before,
        not_valid_after=info.not_valid_after,
        is_ca=info.is_ca,
    )
    return 1


def logo_png(
    text: str = "voipconfig demo",
    colour: Colour = (10, 0.5, 1),
    size: tuple[int, int] = (800, 480),
) -> bytes:
    """A gradient with a name on it, larger than the small screens to show the fitting."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = 40 + 120 * y // height
        fill = tuple(int(c) if c > 1 else int(shade * c) for c in colour)
        draw.line([(0, y), (width, y)], fill=fill)
    draw.text((width // 12, height // 2), text, fill=(255, 255, 255), font_size=48)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def ring_wav(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A classic double ring: 440 + 480 Hz, 0.4 s on, 0.2 s off, twice, then silence."""
    samples = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        phase = t % 2.0
        ringing = phase < 0.4 or 0.6 <= phase < 1.0
        value = math.sin(2 * math.pi * 440 * t) + math.sin(2 * math.pi * 480 * t)
        samples += struct.pack("<h", int(6000 * value) if ringing else 0)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(samples))
    return buffer.getvalue()


def demo_ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voipconfig demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "voipconfig Demo CA"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    # The key is thrown away: a demo CA signs nothing, phones only need to download it.
    return certificate.public_bytes(serialization.Encoding.PEM)
