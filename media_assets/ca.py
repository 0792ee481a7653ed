"""The CA certificate phones must trust to reach us over HTTPS (issue: media)."""

from __future__ import annotations


def ca_certificate_url() -> str:
    """The stable URL of our CA certificate, or "" when none is uploaded.

    Used in phone configs (static.trusted_certificates.url) and by the RPS sync.
    """
    return ""
