from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiToken


def create(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("createapitoken", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_createapitoken_prints_the_token_last_and_keeps_only_its_hash(db):
    out, err = create("--provider", "billing")
    text = out.strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(text.encode()).hexdigest()
    assert text not in {getattr(token, field.attname) for field in ApiToken._meta.fields}
    assert token.organisation is None and not token.read_only and token.expires_at is None
    assert "billing" in err and "provider" in err


def test_an_organisation_token_read_only_with_expiry(tenant_a):
    create("--organisation", tenant_a.organisation.slug, "pbx", "--read-only", "--expires", "90d")
    token = ApiToken.objects.get()
    assert token.organisation == tenant_a.organisation and token.read_only
    assert token.expires_at is not None
    assert 89 < (token.expires_at - token.created_at).total_seconds() / 86400 <= 90
    assert token.user.is_active is False and not token.user.has_usable_password()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--organisation", "nobody", "x"], "No organisation has the slug 'nobody'"),
        (["--provider", "x", "--expires", "soon"], "'soon' is not a duration"),
        (["--provider", "x", "--expires", "0d"], "is not a duration"),
        (["--provider", " "], "A token needs a name"),
    ],
)
def test_createapitoken_refuses_bad_arguments_and_makes_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        create(*args)
    assert not ApiToken.objects.exists()
