"""The deploy files (deploy/Dockerfile, .dockerignore, deploy/compose.yaml, deploy/systemd/)
as far as they can be checked without Docker or systemd running: they parse, the commands
they run exist and take the options given, the settings they pass are documented in
.env.example, the paths they name exist, and they agree with deploy/nginx.conf.

Building the image needs a Docker daemon: that test runs only where `docker info` works and
CI is set (and takes under three minutes there)."""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import resolve

from tests.test_deploy import PRODUCTION

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
NGINX = (DEPLOY / "nginx.conf").read_text()
# The interpreter's and pip's own variables in the Dockerfile: not settings of voipconfig.
NOT_SETTINGS = re.compile(r"^(PATH|PYTHON\w+|PIP_\w+)$")


def documented_settings() -> set[str]:
    """Every variable .env.example names as a setting (`NAME=`, commented out or not)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def nginx_alias(location: str) -> str:
    found = re.findall(rf"location {re.escape(location)} \{{[^}}]*?alias ([^;]+);", NGINX)
    assert found, location
    return found[0].rstrip("/")


# --- Dockerfile --------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of CMD, ENTRYPOINT or HEALTHCHECK's CMD."""
        text = (
            self.arguments.split("CMD", 1)[1] if self.keyword == "HEALTHCHECK" else self.arguments
        )
        words = json.loads(text)
        assert isinstance(words, list), self
        return [str(word) for word in words]

    def env(self) -> dict[str, str]:
        pairs = shlex.split(self.arguments)
        return dict(pair.split("=", 1) for pair in pairs)


KEYWORDS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions, continuation lines joined and comments left out, as Docker reads
    them. An unknown keyword fails here."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        start = start or number
        pending.append(line.removesuffix("\\").strip())
        if line.endswith("\\"):
            continue
        keyword, _, arguments = " ".join(pending).partition(" ")
        assert keyword.upper() in KEYWORDS, f"line {start}: unknown instruction {keyword}"
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending, start = [], 0
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages() -> list[list[Instruction]]:
    instructions = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    assert instructions[0].keyword == "FROM"
    found: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def final_stage() -> list[Instruction]:
    return stages()[-1]


def of(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [instruction for instruction in stage if instruction.keyword == keyword]


def test_the_parser_reads_continued_lines_and_refuses_what_docker_would():
    parsed = dockerfile_instructions("# c\nFROM x AS a\nRUN a \\\n  # inside\n  && b\n")
    assert [(i.keyword, i.arguments) for i in parsed] == [("FROM", "x AS a"), ("RUN", "a && b")]
    with pytest.raises(AssertionError, match="unknown instruction"):
        dockerfile_instructions("FROM x\nRUNN y\n")


def test_the_image_is_built_in_stages_on_python_3_11_slim():
    all_stages = stages()

    assert len(all_stages) >= 2
    assert [stage[0].arguments.split()[0] for stage in all_stages] == ["python:3.11-slim"] * len(
        all_stages
    )
    names = {stage[0].arguments.split()[-1] for stage in all_stages[:-1]}
    copied_from = re.findall(
        r"--from=(\S+)", " ".join(i.arguments for i in of(final_stage(), "COPY"))
    )
    assert copied_from and set(copied_from) <= names


def test_the_image_runs_as_a_user_other_than_root():
    users = of(final_stage(), "USER")

    assert users, "no USER in the final stage: it would run as root"
    assert users[-1].arguments.split(":")[0] not in ("root", "0")
    later = [i for i in final_stage() if i.line > users[-1].line]
    assert {i.keyword for i in later} <= {"EXPOSE", "HEALTHCHECK", "CMD", "LABEL", "STOPSIGNAL"}


def test_the_final_image_has_no_compiler_and_no_pip_cache():
    final_runs = " ".join(i.arguments for i in of(final_stage(), "RUN"))
    every_run = [i.arguments for stage in stages() for i in of(stage, "RUN")]

    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|make)\b", final_runs)
    assert "pip install" not in final_runs  # only the built virtualenv is copied in
    for run in every_run:
        if "pip install" in run:
            assert "--no-cache-dir" in run


def test_the_static_files_are_collected_where_nginx_serves_them():
    env = {k: v for i in of(final_stage(), "ENV") for k, v in i.env().items()}
    collect = [i for i in of(final_stage(), "RUN") if "collectstatic" in i.arguments]
    users = of(final_stage(), "USER")

    assert env["STATIC_ROOT"] == nginx_alias("/static/")
    assert env["FIRMWARE_ROOT"] == nginx_alias("/_firmware/")
    assert collect and "--noinput" in collect[0].arguments
    assert collect[0].line < users[-1].line  # the files belong to root, not the app


def test_the_image_runs_gunicorn_with_the_shipped_configuration():
    (cmd,) = of(final_stage(), "CMD")

    assert cmd.exec_form() == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "voipconfig.wsgi"]


def test_the_health_check_asks_the_apps_healthz():
    from voipconfig.views import healthz

    (check,) = of(final_stage(), "HEALTHCHECK")
    script = check.exec_form()[-1]

    assert (ROOT / script).is_file()
    assert '"/healthz"' in (ROOT / script).read_text()
    assert resolve("/healthz").func is healthz


def test_every_setting_the_image_sets_is_documented():
    env = {k for i in of(final_stage(), "ENV") for k in i.env()}

    assert {k for k in env if not NOT_SETTINGS.match(k)} - documented_settings() == set()


@pytest.mark.django_db(transaction=True)
def test_the_health_check_passes_on_a_healthy_server_and_fails_on_a_wrong_host(
    live_server, settings, monkeypatch
):
    sys.path.insert(0, str(DEPLOY))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(DEPLOY))
    settings.ALLOWED_HOSTS = ["provisioning.example.net"]
    monkeypatch.setenv("GUNICORN_BIND", f"127.0.0.1:{live_server.url.rsplit(':', 1)[1]}")

    monkeypatch.setenv("ALLOWED_HOSTS", ".provisioning.example.net,other.example")
    assert healthcheck.main() == 0
    monkeypatch.setenv("ALLOWED_HOSTS", "other.example")
    assert healthcheck.main() == 1  # Django answers 400 to a host it does not serve


# --- .dockerignore -------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
        for pattern in patterns
        for prefix in prefixes
    ) or any(
        fnmatch.fnmatch(part, pattern.removeprefix("**/"))
        for pattern in patterns
        if pattern.startswith("**/")
        for part in parts
    )


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_secrets_and_development_state_stay_out_of_the_image():
    patterns = dockerignore()

    for path in (".env", "deploy/.env", ".venv/bin/python", ".git/HEAD", "db.sqlite3", "var/x"):
        assert ignored(path, patterns), path
    assert not ignored("deploy/gunicorn.conf.py", patterns)


def test_what_the_image_gets_passes_the_deploy_checks(tmp_path):
    """The files the build context keeps, alone: nothing the app imports was left out."""
    patterns = dockerignore()
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    kept = [path for path in tracked if not ignored(path, patterns)]
    assert "manage.py" in kept and not any(path.startswith("tests/") for path in kept)
    for path in kept:
        if (ROOT / path).is_file():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, tmp_path / path)
    clean = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DJANGO_SETTINGS_MODULE"
    }

    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=tmp_path,
        env={**clean, **PRODUCTION, "ACCESS_LOG_SPOOL_DIR": str(tmp_path / "spool")},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr


# --- compose.yaml --------------------------------------------------------------------------


def compose() -> dict:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict]:
    return compose()["services"]


def ours() -> dict[str, dict]:
    """The services running voipconfig's image (built from deploy/Dockerfile)."""
    return {name: service for name, service in services().items() if "build" in service}


def mounts(service: dict) -> dict[str, str]:
    """Where each volume or host path is mounted in the service: {target: source}."""
    found = {}
    for volume in service.get("volumes", []):
        mount = volume.removesuffix(":ro").removesuffix(":rw")
        source, target = mount.rsplit(":", 1)  # the source may be ${VAR:?message}
        found[target] = source
    return found


def test_compose_runs_the_app_its_database_cache_proxy_rollouts_and_migrations():
    running = services()

    assert set(running) == {"app", "migrate", "rollouts", "worker", "nginx", "db", "redis"}
    assert running["db"]["image"].startswith("postgres:15")
    assert running["redis"]["image"].startswith("redis:7")
    assert set(ours()) == {"app", "migrate", "rollouts", "worker"}
    assert running["worker"]["command"] == ["python", "manage.py", "db_worker", "--no-reload"]
    assert "command" not in running["app"]  # the image's CMD: gunicorn
    assert running["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert running["migrate"]["restart"] == "no"


def test_the_rollouts_run_every_minute():
    script = services()["rollouts"]["command"][-1]

    assert "manage.py firmware_rollouts --quiet" in script
    assert re.search(r"while true; do .*; sleep 60; done", script)


def test_nginx_runs_the_shipped_configuration_mounted_not_copied():
    nginx = services()["nginx"]
    mounted = mounts(nginx)

    assert "build" not in nginx
    assert (DEPLOY / mounted["/etc/nginx/conf.d/default.conf"]).resolve() == DEPLOY / "nginx.conf"
    # The shipped upstream is 127.0.0.1:8000: nginx lives in the app's network namespace.
    assert "server 127.0.0.1:8000;" in NGINX
    assert nginx["network_mode"] == "service:app"
    assert ours()["app"]["environment"]["GUNICORN_BIND"] == "127.0.0.1:8000"


def test_nginx_gets_the_tls_files_and_the_firmware_the_app_writes():
    app, nginx = services()["app"], services()["nginx"]
    certificates = {
        Path(p).parent.as_posix() for p in re.findall(r"ssl_certificate(?:_key)? +([^;]+);", NGINX)
    }
    firmware = nginx_alias("/_firmware/")

    assert len(certificates) == 1 and certificates.pop() in mounts(nginx)
    assert app["environment"]["FIRMWARE_DELIVERY"] == "nginx"
    assert app["environment"]["FIRMWARE_ROOT"] == firmware
    assert mounts(app)[firmware] == mounts(nginx)[firmware]
    assert mounts(app)[firmware] in compose()["volumes"]  # a named volume both share
    static = mounts(nginx)[nginx_alias("/static/")]
    assert static in mounts(services()["migrate"]).values()


def test_every_setting_compose_passes_is_documented():
    text = (DEPLOY / "compose.yaml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    passed = {key for service in ours().values() for key in service.get("environment", {})}

    assert interpolated  # the password and the certificates' directory at least
    assert (interpolated | passed) - documented_settings() == set()


def test_the_compose_env_file_is_never_committed():
    env_files = {service["env_file"] for service in ours().values()}
    assert env_files == {".env"}

    checked = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT)
    assert checked.returncode == 0


def test_the_paths_compose_names_exist():
    for service in ours().values():
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    for service in services().values():
        for source in mounts(service).values():
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source


# --- systemd ----------------------------------------------------------------------------


def unit_files() -> list[Path]:
    return sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.timer"))


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit's settings: {section: {key: [values, in order]}} (a key may repeat)."""
    parsed: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            parsed[section] = {}
            continue
        key, _, value = line.partition("=")
        parsed[section].setdefault(key.strip(), []).append(value.strip())
    return parsed


def test_every_unit_parses():
    assert {p.name for p in unit_files()} == {
        "voipconfig.service",
        "voipconfig-worker.service",
        *(
            f"voipconfig-{job}.{kind}"
            for job in ("prune-access-log", "rps-sync", "firmware-rollouts")
            for kind in ("service", "timer")
        ),
    }
    for path in unit_files():
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
        parser.read_string(path.read_text(), source=str(path))
        assert "Unit" in parser.sections()
        assert ("Service" if path.suffix == ".service" else "Timer") in parser.sections()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_finds_nothing_wrong_with_the_units():
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, unit_files())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The virtualenv is where the units say only on a real installation.
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if not re.search(r"Command /srv/voipconfig/\.venv/bin/\w+ is not executable", line)
    ]

    assert complaints == []


def test_every_service_runs_hardened_as_voipconfig():
    for path in SYSTEMD.glob("*.service"):
        service = unit(path)["Service"]
        for key, value in {
            "User": "voipconfig",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "PrivateTmp": "yes",
        }.items():
            assert service.get(key) == [value], (path.name, key)


def test_gunicorn_may_write_only_the_spool_the_slots_and_the_images():
    service = unit(SYSTEMD / "voipconfig.service")["Service"]
    environment = dict(item.split("=", 1) for item in service["Environment"])
    writable = set(" ".join(service["ReadWritePaths"]).split())

    assert writable == {
        environment["ACCESS_LOG_SPOOL_DIR"],
        environment["FIRMWARE_SLOTS_DIR"],
        environment["FIRMWARE_ROOT"],
    }
    assert environment["FIRMWARE_ROOT"] == nginx_alias("/_firmware/")
    assert service["ExecStart"] == [
        "/srv/voipconfig/.venv/bin/gunicorn -c deploy/gunicorn.conf.py voipconfig.wsgi"
    ]


@pytest.mark.parametrize(
    ("job", "calendar", "command"),
    [
        ("prune-access-log", "*-*-* 03:15:00", "prune_access_log"),
        ("rps-sync", "*:00/15", "rps_sync --json"),
        ("firmware-rollouts", "minutely", "firmware_rollouts --quiet"),
    ],
)
def test_each_job_has_a_timer_starting_its_oneshot_service(job, calendar, command):
    timer = unit(SYSTEMD / f"voipconfig-{job}.timer")
    service = unit(SYSTEMD / f"voipconfig-{job}.service")["Service"]

    assert timer["Timer"]["OnCalendar"] == [calendar]
    assert timer["Timer"]["Unit"] == [f"voipconfig-{job}.service"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    assert service["Type"] == ["oneshot"]  # a timer never starts it again while it runs
    assert service["ExecStart"][0] == f"/srv/voipconfig/.venv/bin/python manage.py {command}"


def test_the_job_worker_runs_as_a_service_and_stops_after_its_task():
    service = unit(SYSTEMD / "voipconfig-worker.service")["Service"]

    assert service["ExecStart"] == [
        "/srv/voipconfig/.venv/bin/python manage.py db_worker --no-reload"
    ]
    assert service["KillSignal"] == ["SIGTERM"] and int(service["TimeoutStopSec"][0]) >= 300
    assert service["User"] == ["voipconfig"]


def test_every_setting_the_units_pass_is_documented():
    passed = {
        item.split("=", 1)[0]
        for path in SYSTEMD.glob("*.service")
        for item in unit(path)["Service"].get("Environment", [])
    }

    assert passed and passed - documented_settings() == set()
    for path in SYSTEMD.glob("*.service"):
        # /srv/voipconfig/.env: the checkout's settings, made from .env.example.
        assert unit(path)["Service"]["EnvironmentFile"] == ["/srv/voipconfig/.env"]


# --- what every deploy file runs -----------------------------------------------------------


def scripts() -> Iterator[tuple[str, str]]:
    """(where, shell text) of every command line the deploy files run."""
    for stage in stages():
        for instruction in of(stage, "RUN"):
            yield f"Dockerfile:{instruction.line}", instruction.arguments
    for name, service in services().items():
        command = service.get("command")
        if isinstance(command, list):
            command = command[-1] if command[:2] == ["sh", "-c"] else shlex.join(command)
        if command:
            yield f"compose.yaml:{name}", command
    for path in SYSTEMD.glob("*.service"):
        for key in ("ExecStart", "ExecReload"):
            for line in unit(path)["Service"].get(key, []):
                yield f"{path.name}:{key}", line


SHELL_WORDS = {"do", "done", "then", "fi", "else"}


def manage_calls(script: str) -> list[list[str]]:
    """Each `manage.py <command> <arguments>` in a shell line, cut at the next operator."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    calls = []
    for index, word in enumerate(words):
        if word.endswith("manage.py"):
            rest = []
            for following in words[index + 1 :]:
                if following in SHELL_WORDS or set(following) <= set(";&|<>()"):
                    break
                rest.append(following)
            calls.append(rest)
    return calls


def test_the_command_finder_cuts_at_shell_operators():
    found = manage_calls("a && python manage.py migrate --noinput && cp x y; manage.py b -v 2 >> l")
    assert found == [["migrate", "--noinput"], ["b", "-v", "2"]]


def test_every_manage_py_command_they_run_exists_and_takes_its_options():
    commands = get_commands()
    calls = [(where, call) for where, script in scripts() for call in manage_calls(script)]

    assert {call[0] for _, call in calls} >= {
        "collectstatic",
        "migrate",
        "firmware_rollouts",
        "prune_access_log",
        "rps_sync",
    }
    for where, (name, *arguments) in calls:
        assert name in commands, f"{where}: no command {name}"
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        parser.parse_args(arguments)  # CommandError on an option it does not take


def test_every_command_named_anywhere_in_the_deploy_files_exists():
    text = "\n".join(
        path.read_text() for path in [DEPLOY / "Dockerfile", DEPLOY / "compose.yaml", *unit_files()]
    )
    named = set(re.findall(r"manage\.py[\s\"',]+([a-z_]+)", text))

    assert named and named - set(get_commands()) == set()


def test_every_repository_path_they_name_exists():
    text = "\n".join(
        path.read_text()
        for path in [
            DEPLOY / "Dockerfile",
            DEPLOY / "compose.yaml",
            ROOT / ".dockerignore",
            *unit_files(),
        ]
    )
    named = set(re.findall(r"(?<![\w/.])(deploy/[\w./-]*\w)", text)) - {"deploy/.env"}

    assert named
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []


# --- the image, built (only where Docker works) -------------------------------------------


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(
    not os.environ.get("CI") or not _docker_works(), reason="needs CI set and a Docker daemon"
)
def test_the_image_builds_runs_as_voipconfig_and_has_no_compiler():
    tag = "voipconfig-test:deploy-files"
    subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "-t", tag, "."],
        cwd=ROOT,
        check=True,
        timeout=180,
    )
    probe = (
        "import os, shutil; print(os.getuid(), shutil.which('gcc'), os.path.isdir('static/admin'))"
    )
    done = subprocess.run(
        ["docker", "run", "--rm", tag, "python", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert done.stdout.split() == ["10001", "None", "True"]
