"""Phone URLs take ASCII digits only: `\\d` in a pattern also matches the digits of other
scripts (a phonebook id in fullwidth digits served the book), so files had names nobody
meant."""

from __future__ import annotations

import contextlib

import pytest
from django.urls import Resolver404, resolve

from phonebooks.models import Phonebook
from tests.test_urls import PHONE_FILES

# A path of every phone file that has digits in it, and what it resolves to.
EXAMPLES = {
    "common-boot": "/y000000000000.boot",
    "common-config": "/y000000000096.cfg",
    "mac-config": "/805ec0aaaa01.cfg",
    "mac-boot": "/805ec0aaaa01.boot",
    "phonebook-xml": "/pb-t5x-2.xml",
    "phonebook-xml-token": "/p/805ec0aaaa01/Ab3_-Cd4Ef5Gh6Ij7Kl8Mn/pb-t5x-2.xml",
    "media-file": "/logo2.png",
    "media-file-token": "/p/805ec0aaaa01/Ab3_-Cd4Ef5Gh6Ij7Kl8Mn/logo2.png",
    "firmware-file": "/firmware/3/96.86.0.120.rom",
    "firmware-file-token": "/p/805ec0aaaa01/Ab3_-Cd4Ef5Gh6Ij7Kl8Mn/firmware/3/96.86.0.120.rom",
    "softkey-file": "/xml/_global/CallIn2.xml",
}
NO_DIGITS = {"ca-certificate"}  # /ca.crt: nothing to put other digits in
# Fullwidth, Arabic-Indic, Devanagari, superscript and mathematical bold digits.
OTHER_DIGITS = [
    {str(n): chr(0xFF10 + n) for n in range(10)},
    {str(n): chr(0x0660 + n) for n in range(10)},
    {str(n): chr(0x0966 + n) for n in range(10)},
    {str(n): "⁰¹²³⁴⁵⁶⁷⁸⁹"[n] for n in range(10)},
    {str(n): chr(0x1D7CE + n) for n in range(10)},
]


def variants(path: str) -> list[str]:
    """The path with one of its ASCII digits, then all of them, in another script."""
    digits = [i for i, char in enumerate(path) if char.isascii() and char.isdigit()]
    found = []
    for table in OTHER_DIGITS:
        for i in digits:
            found.append(path[:i] + table[path[i]] + path[i + 1 :])
        found.append("".join(table.get(char, char) for char in path))
    return found


def test_every_phone_file_with_digits_has_an_example():
    assert set(EXAMPLES) | NO_DIGITS == PHONE_FILES


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_other_scripts_digits_match_no_phone_url(name):
    assert resolve(EXAMPLES[name]).url_name == name

    matched = []
    for path in variants(EXAMPLES[name]):
        with contextlib.suppress(Resolver404):
            matched.append((path, resolve(path).url_name))

    assert matched == []


def test_a_phonebook_is_not_served_for_an_id_in_other_digits(client, tenant_a):
    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    fullwidth = "".join(chr(0xFF10 + int(char)) for char in str(book.pk))

    response = client.get(f"/pb-t5x-{fullwidth}.xml", headers=tenant_a.phone_headers())

    assert client.get(f"/pb-t5x-{book.pk}.xml", headers=tenant_a.phone_headers()).status_code == 200
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/logoXpng", "/logo.pnG", "/logo.PNG", "/ring.ＷAV"])
def test_the_media_extension_is_ascii_and_any_case(path):
    resolves = path in ("/logo.pnG", "/logo.PNG")
    try:
        resolve(path)
        matched = True
    except Resolver404:
        matched = False

    assert matched is resolves
