"""Logging to stderr (on stdio, stdout is the protocol wire) with every known secret redacted.

Redaction happens on the final formatted text, tracebacks included, so a key that slips into an
exception message or a third-party library's log line is still masked.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

_KEY_PATTERNS = re.compile(r"(sk-gamma-[A-Za-z0-9_-]+|bnt_[A-Za-z0-9_-]+|whsec_[A-Za-z0-9_-]+)")
_HEADER_PATTERNS = re.compile(r"(?i)((?:x-api-key|authorization)['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)")


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str], fmt: str) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        text = _KEY_PATTERNS.sub("[redacted]", text)
        return _HEADER_PATTERNS.sub(r"\1[redacted]", text)


def configure_logging(level: str, secrets: Iterable[str]) -> RedactingFormatter:
    """Install one stderr handler on the root logger (replacing earlier ones) and return its formatter."""
    formatter = RedactingFormatter(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_genmcp", False):
            root.removeHandler(old)
    handler._genmcp = True  # type: ignore[attr-defined]  # marks our handler for replacement
    root.addHandler(handler)
    root.setLevel(level if level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO")
    # httpx logs full URLs at INFO; keep them at WARNING unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return formatter
