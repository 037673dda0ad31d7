"""What rendered article HTML may keep: the tags, attributes and class names the Markdown
extensions kb uses emit (tables, callouts, highlighted code, task lists, footnotes, definition
lists, keys, figures, collapsible details) and nothing more, applied with nh3. Scripts and
their content, event handlers, inline styles, ``javascript:`` links and unknown classes are
dropped; a raw ``<img src>`` or ``<a href>`` an author wrote is handed to ``rewrite`` so it
follows the same rules as Markdown's own images and links.
"""
from __future__ import annotations

from typing import Callable

import nh3
from pygments.token import STANDARD_TYPES
from pymdownx.keymap_db import keymap

TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map", "center", "acronym", "strike", "tt"}) | {"input", "figure",
                                                                                        "figcaption", "section"}
ATTRIBUTES: dict[str, set[str]] = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
for _h in ("h1", "h2", "h3", "h4", "h5", "h6"):
    ATTRIBUTES[_h] = {"id"}
ATTRIBUTES.update({
    "a": {"href", "hreflang", "title"},
    "img": {"alt", "src", "title", "width", "height"},
    "input": set(),
    "li": {"id"}, "sup": {"id"}, "details": {"open"},
})
ATTRIBUTE_VALUES = {"input": {"type": {"checkbox"}, "disabled": {"", "disabled"}, "checked": {"", "checked"}}}
SET_VALUES = {"img": {"loading": "lazy", "decoding": "async"}}     # every image waits until it is near the screen
SCHEMES = {"http", "https", "mailto", "tel"}

CALLOUTS = ("note", "tip", "important", "warning", "caution", "danger", "info", "success", "example", "question",
            "abstract", "bug", "failure", "quote", "attention", "hint", "error")
_PYGMENTS = {c for c in STANDARD_TYPES.values() if c}
CLASSES: dict[str, set[str]] = {
    "div": {"admonition", "highlight", "footnote", "figure", *CALLOUTS},
    "details": set(CALLOUTS),
    "p": {"admonition-title"},
    "span": _PYGMENTS | {"keys", "unlinked", "file-meta", "missing-file"},
    "code": set(), "pre": set(),
    "a": {"footnote-ref", "footnote-backref", "file-link", "zoom"},
    "ul": {"task-list"}, "li": {"task-list-item"},
    "kbd": {"key", *(f"key-{k}" for k in keymap)},
    "figure": {"figure"},
    "img": {"shot"},
}

Rewrite = Callable[[str, str, str], "str | None"]     # (tag, attribute, value) → new value or None


def clean(html: str, rewrite: Rewrite | None = None) -> str:
    """``html`` with only what this policy allows; ``rewrite`` sees every ``img src`` and
    ``a href`` (returning None drops the attribute)."""
    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if rewrite is not None and (tag, attr) in (("img", "src"), ("a", "href")):
            return rewrite(tag, attr, value)
        return value

    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, attribute_filter=attribute_filter,
                     tag_attribute_values=ATTRIBUTE_VALUES, set_tag_attribute_values=SET_VALUES, allowed_classes=CLASSES,
                     link_rel="noopener noreferrer nofollow")
