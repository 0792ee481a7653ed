import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

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


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_it_prompts_twice_and_refuses_two_different_passwords(tenant_a, monkeypatch):
    answers = iter(["Prompted-Passw0rd!", "something else"])
    monkeypatch.setattr("sys.stdin", Terminal())
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


@pytest.mark.parametrize(
    ("username", "email", "message"),
    [
        ("", "", "User name refused: This field cannot be blank."),
        ("bad name!", "", "User name refused: Enter a valid username."),
        # Over the column's 150 characters: PostgreSQL's DataError, a traceback.
        ("a" * 200, "", "User name refused: Ensure this value has at most 150 characters"),
        ("dave", "not-an-address", "Email address refused: Enter a valid email address."),
    ],
    ids=["empty", "spaces-and-punctuation", "over-150-characters", "email"],
)
def test_it_refuses_a_user_name_or_email_the_admin_would_refuse(tenant_a, username, email, message):
    args = ["alpha", username, "--email", email, "--password", "Corr3ct-Horse-Battery"]

    with pytest.raises(CommandError, match=message):
        call_command("createorgadmin", *args)
    assert not User.objects.filter(username__in=[username, "dave"]).exists()


def test_a_password_with_a_nul_character_is_refused_as_no_login_form_takes_it(tenant_a, tmp_path):
    secret = tmp_path / "password"
    secret.write_bytes(b"\x00" * 100 + b"\n")

    with pytest.raises(CommandError, match="The password holds a NUL character"):
        call_command("createorgadmin", "alpha", "gil", "--password-file", str(secret))
    assert not User.objects.filter(username="gil").exists()


def test_a_taken_user_name_is_refused(tenant_a):
    User.objects.create_user("erin")

    with pytest.raises(CommandError, match="already exists"):
        call_command("createorgadmin", "alpha", "erin", "--password", "Corr3ct-Horse-Battery")


def test_it_takes_the_password_from_the_first_line_of_a_file(tenant_a, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("File-Supplied-Passw0rd\nnot this line\n")

    call_command(
        "createorgadmin", "alpha", "fay", "--password-file", str(secret), stdout=StringIO()
    )

    assert User.objects.get(username="fay").check_password("File-Supplied-Passw0rd")


@pytest.mark.parametrize(
    ("content", "message"), [("", "its first line is empty"), (None, "Cannot read the password")]
)
def test_a_password_file_without_a_password_is_refused(tenant_a, tmp_path, content, message):
    secret = tmp_path / "password"
    if content is not None:
        secret.write_text(content)

    with pytest.raises(CommandError, match=message):
        call_command("createorgadmin", "alpha", "gus", "--password-file", str(secret))
    assert not User.objects.filter(username="gus").exists()


# --- as a script runs it: its own process, standard input a pipe, no terminal -----------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def database_of_a_script(tmp_path_factory):
    """A database of its own (the test database lives in this process), with organisation
    alpha."""
    url = f"sqlite:///{tmp_path_factory.mktemp('script') / 'db.sqlite3'}"
    setup = (
        "from django.core.management import call_command; call_command('migrate', verbosity=0); "
        "from tests.factories import make_organisation; make_organisation('alpha')"
    )
    done = manage(url, "shell", "-c", setup)
    assert done.returncode == 0, done.stderr
    return url


def manage(database_url: str, *args: str, stdin: str = ""):
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true"}
    env["DJANGO_SETTINGS_MODULE"] = "voipconfig.settings_test"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no controlling terminal, as under cron or in CI
    )


def users_of(database_url: str) -> str:
    done = manage(
        database_url,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "print(sorted(User.objects.values_list('username', flat=True)))",
    )
    return done.stdout.strip()


def test_without_a_terminal_it_says_how_to_pass_the_password_instead_of_a_traceback(
    database_of_a_script,
):
    done = manage(database_of_a_script, "createorgadmin", "alpha", "hal", stdin="")

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "CommandError: No terminal to ask for the password (standard input is not one): pass "
        "--password-file FILE (- reads it from standard input), or --noinput with the password "
        "in $DJANGO_ORGADMIN_PASSWORD."
    )
    assert "hal" not in users_of(database_of_a_script)


def test_a_script_pipes_the_password_in_with_a_password_file_of_dash(database_of_a_script):
    done = manage(
        database_of_a_script,
        "createorgadmin",
        "alpha",
        "ida",
        "--password-file",
        "-",
        stdin="Piped-In-Passw0rd\n",
    )

    assert done.returncode == 0, done.stderr
    assert "Created 'ida', staff of Alpha (alpha)." in done.stdout
