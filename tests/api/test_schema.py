"""The OpenAPI schema is valid, warns of nothing, and describes what the API answers."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_the_schema_validates_without_a_warning(tmp_path, db):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) > 40
    for operation in operations:
        assert operation["security"] == [{"bearer": []}], operation["operationId"]
        assert "401" in operation["responses"] and "429" in operation["responses"]
