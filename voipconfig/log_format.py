"""LOG_FORMAT=json: one JSON object per line, for a log collector to take apart.

Every record has `time` (UTC, ISO 8601), `level`, `logger` and `message`; a phone request's
line (logger `voipconfig.requests`) also `mac`, `organisation`, `kind`, `outcome`, `status`,
`duration_ms` and `ip`; a record with a traceback has it in `exception`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# What devices.serving.endpoint passes with a phone request's record (`extra=`).
REQUEST_FIELDS = ("mac", "organisation", "kind", "outcome", "status", "duration_ms", "ip")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)
