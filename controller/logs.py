"""Structured logs (C10): one line per event, `key=value` or JSON.

Messages are written as `event=name key=value ...`; the formatter adds time, level
and logger, and in JSON mode splits the pairs into fields.
"""

from __future__ import annotations

import json
import logging
import shlex
import time


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"ts={ts}.{int(record.msecs):03d}Z level={record.levelname.lower()} " \
               f"logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {"ts": record.created, "level": record.levelname.lower(),
                                  "logger": record.name}
        msg = record.getMessage()
        try:
            pairs = [p.split("=", 1) for p in shlex.split(msg)]
        except ValueError:
            pairs = []
        if pairs and all(len(p) == 2 for p in pairs):
            out.update({k: v for k, v in pairs})
        else:
            out["msg"] = msg
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup(fmt: str = "kv", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
