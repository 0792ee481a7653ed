from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from organisations.scoping import staff_organisation

User = get_user_model()


def test_it_creates_a_staff_login_for_one_organisation(tenant_a):
    out = StringIO()

    call_command(
        "createorgadmin",
        "alpha",
        "alice",
        "--email",
        "a@example.com",
        "--password",
        "Corr3ct-Horse-Battery",
        stdout=out,
    )

    user = User.objects.get(username="alice")
    assert user.is_staff and not user.is_superuser
    assert user.check_password("Corr3ct-Horse-Battery")
    assert staff_organisation(user) == tenant_a.organisation
    assert "Created 'alice', staff of Alpha (alpha)." in out.getvalue()


def test_noinput_takes_the_password_from_the_environment(tenant_a, monkeypatch):
    monkeypatch.setenv("DJANGO_ORGADMIN_PASSWORD", "Env-Supplied-Passw0rd")

    call_command("createorgadmin", "alpha", "bob", "--noinput", stdout=StringIO())

    assert User.objects.get(username="bob").check_password("Env-Supplied-Passw0rd")


def test_noinput_without_the_variable_fails_clearly(tenant_a, monkeypatch):
    monkeypatch.delenv("DJANGO_ORGADMIN_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="DJANGO_ORGADMIN_PASSWORD"):
        call_command("createorgadmin", "alpha", "bob", "--noinput")


def test_it_prompts_twice_and_refuses_two_different_passwords(tenant_a, monkeypatch):
    answers = iter(["Prompted-Passw0rd!", "something else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))

    with pytest.raises(CommandError, match="differ"):
        call_command("createorgadmin", "alpha", "carol")
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nope", "dave", "--password", "Corr3ct-Horse-Battery"],
            "No organisation with the slug 'nope'",
        ),
        (["alpha", "dave", "--password", "123"], "Password refused"),
    ],
)
def test_it_fails_loudly_on_bad_input(tenant_a, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createorgadmin", *args)
    assert not User.objects.filter(username="dave").exists()


def test_a_taken_user_name_is_refused(tenant_a):
    User.objects.create_user("erin")

    with pytest.raises(CommandError, match="already exists"):
        call_command("createorgadmin", "alpha", "erin", "--password", "Corr3ct-Horse-Battery")
