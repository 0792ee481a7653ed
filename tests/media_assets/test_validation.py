"""Each check refuses what it should, with a message that says what is wrong."""

import io
import struct

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from media_assets.validation import (
    RINGTONE_MAX_BYTES,
    WALLPAPER_MAX_BYTES,
    inspect_certificate,
    inspect_image,
    inspect_softkey_xml,
    inspect_wav,
    validate_file_name,
)
from tests.media_assets.media import (
    broken_certificate_pem,
    certificate,
    certificate_der,
    certificate_pem,
    g711_wav,
    image_bytes,
    noise_png,
    pcm_wav,
)


def refusal(check, data) -> str:
    with pytest.raises(ValidationError) as caught:
        check(data)
    return " ".join(caught.value.messages)


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("BMP", "image/bmp")]
)
def test_it_accepts_png_jpeg_and_bmp_images(fmt, content_type):
    info = inspect_image(image_bytes(800, 480, fmt))

    assert (info.width, info.height, info.content_type) == (800, 480, content_type)


def test_it_refuses_a_truncated_png():
    data = image_bytes(400, 300)

    message = refusal(inspect_image, data[: len(data) // 2])

    assert "damaged or truncated" in message


def test_it_refuses_a_truncated_jpeg_whose_header_is_intact():
    noise_jpeg = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(noise_jpeg, "JPEG")
    data = noise_jpeg.getvalue()

    message = refusal(inspect_image, data[: len(data) * 2 // 3])

    assert "damaged or truncated" in message


def test_it_refuses_a_text_file_named_png():
    message = refusal(inspect_image, b"This is not a picture, just text renamed to logo.png\n")

    assert "not an image" in message


def test_it_refuses_an_image_over_two_megapixels():
    message = refusal(inspect_image, image_bytes(3000, 3000))

    assert "3000x3000 (9.0 megapixels)" in message
    assert "at most 2 megapixels" in message


def test_it_refuses_an_image_over_five_megabytes():
    data = noise_png(1400, 1400)  # ~5.9 MB of incompressible pixels, under 2 megapixels
    assert len(data) > WALLPAPER_MAX_BYTES

    message = refusal(inspect_image, data)

    assert "the limit is 5.0 MB" in message


def test_it_refuses_a_gif_image():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "GIF")

    assert "GIF image; phones take PNG, JPEG or BMP" in refusal(inspect_image, buffer.getvalue())


def test_it_refuses_an_empty_file():
    assert "empty" in refusal(inspect_image, b"")


# --- ringtones ------------------------------------------------------------------------------


def test_it_accepts_8khz_mono_16bit_pcm():
    info = inspect_wav(pcm_wav(seconds=1))

    assert (info.codec, info.channels, info.sample_rate) == ("PCM", 1, 8000)
    assert info.duration_seconds == pytest.approx(1.0)


@pytest.mark.parametrize(("tag", "codec"), [(6, "G.711 A-law"), (7, "G.711 µ-law")])
def test_it_accepts_g711_which_the_wave_module_refuses(tag, codec):
    info = inspect_wav(g711_wav(tag))

    assert info.codec == codec
    assert info.duration_seconds == pytest.approx(0.5)


def test_it_refuses_a_stereo_44_1_khz_wav_and_names_both_problems():
    message = refusal(inspect_wav, pcm_wav(rate=44100, channels=2, seconds=0.5))

    assert "stereo" in message
    assert "44.1 kHz" in message
    assert "mono, 8 kHz" in message


def test_it_refuses_a_truncated_wav():
    data = pcm_wav(seconds=1)

    message = refusal(inspect_wav, data[: len(data) - 1000])

    assert "truncated" in message


def test_it_refuses_a_truncated_wav_whose_riff_size_was_patched():
    data = bytearray(pcm_wav(seconds=1)[:-1000])
    struct.pack_into("<I", data, 4, len(data) - 8)  # only the data chunk still says more

    assert "truncated" in refusal(inspect_wav, bytes(data))


def test_it_refuses_an_mp3_renamed_to_wav():
    assert "not a WAV file" in refusal(inspect_wav, b"ID3\x03\x00\x00\x00" + b"\xff\xfb" * 500)


def test_it_refuses_a_wav_in_another_codec():
    data = bytearray(g711_wav(7))
    struct.pack_into("<H", data, 20, 85)  # format tag: MP3

    assert "encoded as MP3" in refusal(inspect_wav, bytes(data))


def test_it_refuses_a_ringtone_over_the_size_limit():
    data = pcm_wav(seconds=40)  # 16 KB/s
    assert len(data) > RINGTONE_MAX_BYTES

    assert "the limit is 512 KB" in refusal(inspect_wav, data)


# --- certificates ---------------------------------------------------------------------------


def test_it_accepts_a_pem_certificate_and_reads_it():
    info = inspect_certificate(certificate_pem("Provider Root CA"))

    assert info.subject == "CN=Provider Root CA"
    assert info.is_ca
    assert info.pem.startswith("-----BEGIN CERTIFICATE-----\n")


def test_it_stores_a_der_certificate_as_pem():
    der = certificate_der()

    info = inspect_certificate(der)

    assert info.pem.startswith("-----BEGIN CERTIFICATE-----")
    assert inspect_certificate(info.pem.encode()).sha256 == info.sha256


def test_it_refuses_a_certificate_with_a_broken_body():
    assert "not a certificate we can read" in refusal(inspect_certificate, broken_certificate_pem())


def test_it_refuses_random_bytes_as_a_der_certificate():
    assert "not a certificate we can read" in refusal(inspect_certificate, b"\x30\x82garbage")


def test_it_refuses_a_file_with_a_private_key_in_it():
    from cryptography.hazmat.primitives import serialization

    _, key = certificate()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    message = refusal(inspect_certificate, certificate_pem() + key_pem)

    assert "contains a private key" in message


def test_it_refuses_a_bundle_of_several_certificates():
    message = refusal(inspect_certificate, certificate_pem("One") + certificate_pem("Two"))

    assert "holds 2 certificates" in message


# --- softkey XML ----------------------------------------------------------------------------

CALL_IN = (
    '<?xml version="1.0" encoding="UTF-8"?><CallIn><Enable><Key Type="Answer"/></Enable></CallIn>'
)


def test_it_accepts_a_softkey_file_and_returns_its_call_state():
    assert inspect_softkey_xml(CALL_IN) == "CallIn"


def test_it_refuses_xml_that_is_not_well_formed():
    assert "not well-formed" in refusal(inspect_softkey_xml, "<CallIn><Enable></CallIn>")


def test_it_refuses_a_root_that_is_not_a_call_state():
    message = refusal(inspect_softkey_xml, "<YealinkIPPhoneDirectory/>")

    assert "root element is <YealinkIPPhoneDirectory>" in message
    assert "CallIn" in message


def test_it_refuses_a_dtd_with_entities():
    xml = (
        '<?xml version="1.0"?><!DOCTYPE CallIn [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<CallIn>&xxe;</CallIn>"
    )

    assert "DOCTYPE" in refusal(inspect_softkey_xml, xml)


def test_it_refuses_a_declared_encoding_other_than_utf8():
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><Talking/>'

    assert "ISO-8859-1" in refusal(inspect_softkey_xml, xml)


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["my logo.png", "../etc/passwd.png", ".hidden.png", "a/b.png"])
def test_it_refuses_file_names_a_phone_cannot_ask_for(name):
    assert "letters, digits" in refusal(validate_file_name, name)
