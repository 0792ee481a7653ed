"""The CA certificate phones must trust to reach us over HTTPS.

It is served at one stable URL, `<PROVISIONING_URL>ca.crt`, whichever certificate is current:
replacing the certificate in the admin changes what that URL serves, never the URL, so
neither the phones' configs nor RPS need to learn a new address.
"""

from __future__ import annotations

from django.conf import settings

CA_CERTIFICATE_PATH = "ca.crt"
# .crt is what phones and browsers expect for a CA; the body is PEM, which Yealink accepts
# (pem/cer/crt/der) and which is the conventional content of this type on the web.
CA_CERTIFICATE_CONTENT_TYPE = "application/x-x509-ca-cert"


def certificate_url() -> str:
    """The URL, whether or not a certificate is uploaded (no query)."""
    return settings.PROVISIONING_URL + CA_CERTIFICATE_PATH


def ca_certificate_url() -> str:
    """The stable URL of our CA certificate, or "" when none is uploaded.

    Used in phone configs (static.trusted_certificates.url) and by the RPS sync.
    """
    from media_assets.models import CaCertificate  # ca.py is imported before apps are ready

    return certificate_url() if CaCertificate.objects.filter(is_active=True).exists() else ""
