"""Text as pages show it: bidirectional overrides removed, so that a title cannot be visually spoofed.

U+202E (RIGHT-TO-LEFT OVERRIDE) and its kin make a browser draw the characters after them in another
order: ``invoice\u202egnp.exe`` reads as ``invoiceexe.png``. Pages drop them; the stored text and the JSON
API keep the text exactly as received.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

BIDI_CONTROLS = dict.fromkeys(
    [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C]
)
"""Embeddings, overrides, isolates and the invisible direction marks."""


def display_text(value: Any) -> Any:
    """``value`` with bidi controls removed when it is text; anything else (None, numbers) as it is."""
    if isinstance(value, Markup):  # already safe HTML: keep it Markup, or it would be escaped twice
        return Markup(str(value).translate(BIDI_CONTROLS))
    if isinstance(value, str):
        return value.translate(BIDI_CONTROLS)
    return value
