"""Control characters: refused in class names, escaped in everything shown to a person.

A class name, a sub-text from an LLM, an imported file's label or an endpoint's error
body can carry characters that act on whatever displays them: NUL, C0/C1 controls (ESC
starts ANSI sequences that recolour, move the cursor or retitle a terminal), bidi
overrides that make text read in another order, zero-width characters that make two
names look the same. Every text that reaches a terminal, a log or the Prefect UI goes
through `printable` once, at that edge.
"""

import unicodedata

# Unicode general categories: Cc controls (C0, DEL, C1), Cf format characters (bidi
# embeddings/overrides/isolates U+202A–U+202E and U+2066–U+2069, zero-width U+200B–U+200D,
# U+FEFF, soft hyphen), Zl/Zp line and paragraph separators (U+2028/U+2029, which many
# readers treat as line breaks).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_KIND = {"Cc": "control character", "Cf": "invisible format character",
         "Zl": "line separator", "Zp": "paragraph separator"}


def is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def first_unsafe(text: str) -> str | None:
    """The first unsafe character of `text`, or None."""
    return next((ch for ch in text if is_unsafe(ch)), None)


def describe(ch: str) -> str:
    """`U+001B (control character)`, `U+202E RIGHT-TO-LEFT OVERRIDE (invisible format …)`."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}{' ' + name if name else ''} ({_KIND[unicodedata.category(ch)]})"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, keep: str = "\n\t") -> str:
    """`text` as a string with every unsafe character written as a visible escape
    (`\\x1b`, `\\u202e`); `keep` lists the ones left as they are (line breaks and tabs of a
    multi-line message)."""
    text = str(text)
    if first_unsafe(text) is None:
        return text
    return "".join(_escape(ch) if is_unsafe(ch) and ch not in keep else ch for ch in text)
