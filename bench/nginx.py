"""A real nginx running the shipped deploy/nginx.conf, for tests/test_nginx_firmware.py and
bench/firmware_bench.py.

The generated configuration is the shipped file with only what must differ on a test
machine rewritten: its ports, the upstream's address, the TLS certificate (a throwaway one),
the directories it serves, and optionally the download limit. Each rewrite must find what it
replaces, so a change to the shipped file that the rewrites miss fails loudly instead of
testing something else. Around it, the http block of Debian's /etc/nginx/nginx.conf (where
the shipped file goes, in sites-enabled), with its pid, logs and temporary files in the
run's own directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")
# The zone's name and its limit as the shipped file writes them.
LIMIT = "limit_conn firmware_downloads {};"
SHIPPED_LIMIT = 50


@dataclass
class Site:
    """What the generated nginx listens on, talks to and serves."""

    workdir: Path
    upstream: str  # host:port of gunicorn
    firmware_root: Path
    http_port: int = 0  # 0: a free one
    https_port: int = 0
    max_downloads: int | None = None  # None: the shipped file's
    worker_processes: int = 1

    def __post_init__(self) -> None:
        self.http_port = self.http_port or free_port()
        self.https_port = self.https_port or free_port()

    @property
    def certificate(self) -> str:
        """The throwaway certificate's file, for a client to verify the HTTPS server by."""
        return str(self.workdir / "cert.pem")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _replace(text: str, old: str, new: str, count: int) -> str:
    found = text.count(old)
    if found != count:
        raise ValueError(
            f"deploy/nginx.conf has {old!r} {found} times, not {count}: see bench/nginx.py"
        )
    return text.replace(old, new)


def server_blocks(site: Site, cert: Path, key: Path) -> str:
    """The shipped file, rewritten for `site`."""
    text = SHIPPED.read_text()
    rewrites = [
        ("server 127.0.0.1:8000;", f"server {site.upstream};", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{site.https_port} ssl http2;", 1),
        ("listen 80;", f"listen 127.0.0.1:{site.http_port};", 1),
        ("/etc/ssl/voipconfig/fullchain.pem", str(cert), 1),
        ("/etc/ssl/voipconfig/privkey.pem", str(key), 1),
        ("alias /srv/voipconfig/firmware/;", f"alias {site.firmware_root}/;", 2),
        ("alias /srv/voipconfig/static/;", f"alias {site.workdir / 'static'}/;", 1),
    ]
    if site.max_downloads is not None:
        old, new = LIMIT.format(SHIPPED_LIMIT), LIMIT.format(site.max_downloads)
        rewrites.append((old, new, 2))
    for old, new, count in rewrites:
        text = _replace(text, old, new, count)
    return text


def main_config(site: Site, servers: Path) -> str:
    work = site.workdir
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers read root's temp dirs
    types = f"    include {MIME_TYPES};\n" if MIME_TYPES.exists() else ""
    temp = "".join(
        f"    {kind}_temp_path {work / 'temp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes {site.worker_processes};\n"
        f"daemon off;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n    sendfile on;\n    tcp_nopush on;\n"
        f"{types}    default_type application/octet-stream;\n"
        f"    access_log {work / 'access.log'};\n{temp}"
        f"    include {servers};\n}}\n"
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def write_config(site: Site) -> Path:
    """Write the configuration into site.workdir; return the main file's path."""
    for sub in ("temp", "static"):
        (site.workdir / sub).mkdir(parents=True, exist_ok=True)
    cert, key = self_signed_certificate(site.workdir)
    servers = site.workdir / "voipconfig.conf"
    servers.write_text(server_blocks(site, cert, key))
    main = site.workdir / "nginx.conf"
    main.write_text(main_config(site, servers))
    return main


def binary() -> str | None:
    """The nginx binary (in /usr/sbin, which a user's PATH may lack), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


@contextmanager
def running(site: Site) -> Iterator[subprocess.Popen[bytes]]:
    """nginx on the generated configuration, until the block ends."""
    nginx = binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
    main = write_config(site)
    checked = subprocess.run(
        [nginx, "-t", "-q", "-p", str(site.workdir), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refuses the generated configuration:\n{checked.stderr}")
    process = subprocess.Popen([nginx, "-p", str(site.workdir), "-c", str(main)])
    try:
        _wait_for(site.http_port, process, site)
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: the workers finish what they send
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes], site: Site) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not start: {error_log(site)[-2000:]}")


def error_log(site: Site) -> str:
    path = site.workdir / "error.log"
    return path.read_text(errors="replace") if path.exists() else ""


def worker_pids(process: subprocess.Popen[bytes]) -> list[int]:
    """nginx's worker processes (the master's children)."""
    try:
        text = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]
