"""Peak Python memory while a phone downloads a 5 MB wallpaper: the bytes are held once.

    .venv/bin/python bench/media_serving.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/media_serving.py

Creates a throwaway test database (test_<name>), serves the original (a model with no known
screen) and a fitted copy through the real URL, the phone decorator and the access log, and
prints the peak of Python allocations (tracemalloc) during each request against the file size.
"""

from __future__ import annotations

import io
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipconfig.settings_test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from PIL import Image  # noqa: E402

from devices.models import Device  # noqa: E402
from media_assets.models import Wallpaper  # noqa: E402
from media_assets.validation import inspect_image  # noqa: E402
from organisations.models import Organisation  # noqa: E402

MB = 1024 * 1024


def noise_png(side: int = 1300) -> bytes:
    """Random pixels do not compress: a PNG just under the 5 MB limit, 1.7 megapixels."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def setup() -> None:
    organisation = Organisation.objects.create(
        slug="bench",
        name="Bench",
        provisioning_username="bench",
        provisioning_password="bench-password",
        sip_server_host="sip.bench.example",
    )
    Device.objects.create(organisation=organisation, mac="805ec0bbbb01", model="T42G")
    Device.objects.create(organisation=organisation, mac="805ec0bbbb02", model="T58A")
    data = noise_png()
    info = inspect_image(data)
    wallpaper = Wallpaper(organisation=organisation, name="big.png")
    wallpaper.width, wallpaper.height = info.width, info.height
    wallpaper.set_content(data, info.content_type)
    wallpaper.save()


def measure(client: Client, user_agent: str) -> tuple[int, int, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    response = client.get("/big.png", headers={"User-Agent": user_agent})
    # A FileResponse: iterating it reads streaming_content, which the test client's type lacks.
    assert response.streaming
    received = sum(len(chunk) for chunk in response)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 200 and received == int(response["Content-Length"])
    return received, peak, elapsed


def main() -> None:
    setup_test_environment()  # ALLOWED_HOSTS for the test client, as under pytest
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        setup()
        client = Client()
        original = "Yealink SIP-T42G 29.86.0.1 80:5e:c0:bb:bb:01"
        fitted = "Yealink SIP-T58A 58.86.0.1 80:5e:c0:bb:bb:02"
        client.get("/big.png", headers={"User-Agent": fitted})  # make the 1024x600 copy first
        print(f"database: {connection.vendor}")
        for label, user_agent in (("original", original), ("fitted 1024x600", fitted)):
            measure(client, user_agent)  # warm: imports, connection, caches
            size, peak, elapsed = measure(client, user_agent)
            print(
                f"{label:>16}: {size / MB:.2f} MB served, peak Python memory {peak / MB:.2f} MB "
                f"({peak / size:.2f}x the file), {elapsed * 1000:.0f} ms"
            )
    finally:
        connection.creation.destroy_test_db(test_name, verbosity=0)


if __name__ == "__main__":
    main()
