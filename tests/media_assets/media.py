"""Media built in code for the tests: images, WAV files, certificates, and their bad twins."""

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
from PIL import Image

from media_assets.models import CaCertificate, OrganisationMedia, Ringtone, Wallpaper
from media_assets.validation import inspect_certificate, inspect_image, inspect_wav
from organisations.models import Organisation


def image_bytes(width: int = 64, height: int = 48, fmt: str = "PNG", color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    # A darker left half, so a crop is visible in the pixels.
    image.paste((20, 20, 120), (0, 0, width // 2, height))
    image.save(buffer, fmt)
    return buffer.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """Random pixels: PNG cannot compress them, so the file is about width*height*3 bytes."""
    import os

    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def pcm_wav(rate: int = 8000, channels: int = 1, seconds: float = 0.5, width: int = 2) -> bytes:
    frames = int(rate * seconds)
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) * channels
        for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(samples if width == 2 else bytes(len(samples) // 2 * channels))
    return buffer.getvalue()


def g711_wav(format_tag: int = 7, rate: int = 8000, channels: int = 1, frames: int = 4000) -> bytes:
    """A WAV with format tag 6 (A-law) or 7 (µ-law), which the wave module refuses."""
    data = bytes([0xFF]) * frames * channels
    fmt = struct.pack("<HHIIHHH", format_tag, channels, rate, rate * channels, channels, 8, 0)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"fact" + struct.pack("<I", 4) + struct.pack("<I", frames)
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def certificate(common_name: str = "Test Root CA", *, ca: bool = True, days: int = 365):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256()), key


def certificate_pem(common_name: str = "Test Root CA", **kwargs) -> bytes:
    cert, _ = certificate(common_name, **kwargs)
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_der(common_name: str = "Test Root CA") -> bytes:
    cert, _ = certificate(common_name)
    return cert.public_bytes(serialization.Encoding.DER)


def broken_certificate_pem() -> bytes:
    """A real PEM whose base64 body has been tampered with in the middle."""
    lines = certificate_pem().decode().splitlines()
    middle = len(lines) // 2
    lines[middle] = "A" * len(lines[middle])
    return ("\n".join(lines) + "\n").encode()


def make_wallpaper(
    organisation: Organisation | None, name: str = "logo.png", data: bytes | None = None
) -> Wallpaper:
    data = data if data is not None else image_bytes(960, 544)
    info = inspect_image(data)
    wallpaper = Wallpaper(organisation=organisation, name=name, width=info.width)
    wallpaper.height = info.height
    wallpaper.set_content(data, info.content_type)
    wallpaper.full_clean()
    wallpaper.save()
    return wallpaper


def make_ringtone(
    organisation: Organisation | None, name: str = "ring.wav", data: bytes | None = None
) -> Ringtone:
    data = data if data is not None else pcm_wav()
    info = inspect_wav(data)
    ringtone = Ringtone(organisation=organisation, name=name, codec=info.codec)
    ringtone.set_content(data, "audio/wav")
    ringtone.full_clean()
    ringtone.save()
    return ringtone


def make_ca_certificate(label: str = "Test CA", pem: bytes | None = None) -> CaCertificate:
    info = inspect_certificate(pem or certificate_pem(label))
    return CaCertificate.objects.create(
        label=label,
        pem=info.pem,
        sha256=info.sha256,
        subject=info.subject,
        issuer=info.issuer,
        not_valid_before=info.not_valid_before,
        not_valid_after=info.not_valid_after,
        is_ca=info.is_ca,
    )


def choose(organisation: Organisation, **fields) -> OrganisationMedia:
    media, _ = OrganisationMedia.objects.update_or_create(
        organisation=organisation, defaults=fields
    )
    return media
