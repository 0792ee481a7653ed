"""What a phone does on the wire, written from RFC 7616 for the tests (the live-server test
uses requests' own HTTPDigestAuth, a client we did not write)."""

from __future__ import annotations

import hashlib
import re


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def challenge_params(header: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


def digest_authorization(
    challenge: str,
    username: str,
    password: str,
    uri: str,
    *,
    method: str = "GET",
    nonce: str | None = None,
    cnonce: str = "0a4f113b",
    nc: str = "00000001",
    response_uri: str | None = None,
) -> str:
    """The Authorization header answering a Digest challenge (qop=auth)."""
    params = challenge_params(challenge)
    realm, nonce = params["realm"], nonce or params["nonce"]
    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{response_uri or uri}")
    response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    )


def www_authenticate(response) -> list[str]:
    """Every WWW-Authenticate header line the server sends, in order."""
    return [value for name, value in response.items() if name.lower() == "www-authenticate"]
