"""Parse JSON as Crosschq's documents write it.

The Partner API v2 document's webhook examples carry ``// comments`` and a missing comma before
them (``"event_name": "..."\\n"score": 3.21, // optional``). Strict JSON is tried first; only if
it fails are comments outside strings removed and missing commas between a value and the next
key on a new line inserted; no-break spaces used as indentation become spaces. Anything still
invalid raises ``ValueError``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MISSING_COMMA = re.compile(r'("|\d|true|false|null|\]|\})(\s*\n\s*)(")')
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _strip_comments(text: str) -> str:
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            # The document indents with U+00A0, which JSON does not accept as white space.
            out.append(" " if ch == "\u00a0" else ch)
        i += 1
    return "".join(out)


def loads(raw: bytes | str) -> Any:
    try:
        return _loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _loads(raw: bytes | str) -> Any:
    text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    try:
        return json.loads(text)
    except ValueError:
        pass
    repaired = _strip_comments(text)
    repaired = _MISSING_COMMA.sub(r"\1,\2\3", repaired)
    repaired = _TRAILING_COMMA.sub(r"\1", repaired)
    return json.loads(repaired)
