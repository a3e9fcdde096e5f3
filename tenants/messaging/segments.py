"""How many SMS a text is: GSM-7 when the GSM 03.38 alphabet holds every character (160
septets alone, 153 a part once split; an extension character such as € or { takes two),
otherwise UCS-2 (70 UTF-16 code units alone, 67 a part).

The alphabet is the gsm0338 package's codec (3GPP TS 23.038), not a table of our own; the
portal's live counter (static/js/sms-counter.js) receives its characters from
``alphabet()`` and only previews: the server counts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

CODEC = "gsm03.38"
ESCAPE = 0x1B
GSM7, UCS2 = "gsm7", "ucs2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class Count:
    encoding: str  # GSM7 or UCS2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    @property
    def per_segment(self) -> int:
        single, part = LIMITS[self.encoding]
        return single if self.segments <= 1 else part


def _gsm_septets(text: str) -> int | None:
    """Septets of ``text`` in the GSM 03.38 alphabet (an extension character is an escape and
    itself), or None when a character is outside it."""
    try:
        return len(text.encode(CODEC))
    except (UnicodeEncodeError, ValueError):
        return None


def count(text: str) -> Count:
    """The encoding, length and number of SMS of ``text`` (an empty text is one SMS)."""
    septets = _gsm_septets(text)
    if septets is not None:
        encoding, units = GSM7, septets
    else:
        encoding, units = UCS2, len(text.encode("utf-16-le")) // 2
    single, part = LIMITS[encoding]
    segments = 1 if units <= single else -(-units // part)
    return Count(encoding, units, segments)


def segments(text: str) -> int:
    return count(text).segments


@functools.cache
def alphabet() -> tuple[str, str]:
    """The GSM 03.38 basic characters and extension characters, read from the codec (for the
    portal's live counter)."""
    basic, extended = [], []
    for code in range(128):
        if code == ESCAPE:
            continue
        try:
            basic.append(bytes([code]).decode(CODEC))
        except (UnicodeDecodeError, ValueError):
            continue
    for code in range(128):
        try:
            char = bytes([ESCAPE, code]).decode(CODEC)
        except (UnicodeDecodeError, ValueError):
            continue
        if len(char) == 1 and char not in basic and _gsm_septets(char) == 2:
            extended.append(char)
    return "".join(basic), "".join(extended)
