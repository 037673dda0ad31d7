"""Markdown → the plain text an agent pastes into a chat or an e-mail: list numbers and bullets
kept, an image replaced by its alt text, a callout by its title, keys by their names; emphasis,
code marks, link targets, footnote marks and fences dropped; blank lines collapsed."""
from __future__ import annotations

import re

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"!\[([^\]]*)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<img\b[^>]*?\balt=[\"']([^\"']*)[\"'][^>]*>", re.I), r"\1"),
    (re.compile(r"\[\^[^\]]+\]"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\+\+([\w+-]+?)\+\+"), lambda m: "+".join(k.capitalize() for k in m.group(1).split("+"))),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"<[^>]+>"), ""),
]
_ALERT = re.compile(r"^\s*>\s*\[!(\w+)\]\s*(.*)$")
_ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s+(\w+)(?:\s+\"([^\"]*)\")?\s*$")
_TASK = re.compile(r"^(\s*)[*+-]\s+\[[ xX]\]\s+")


def plain_text(md: str) -> str:
    out: list[str] = []
    for line in md.splitlines():
        if line.lstrip().startswith(("```", "~~~")) or re.match(r"^\s{0,3}\[\^[^\]]+\]:", line):
            continue
        alert = _ALERT.match(line)
        admonition = _ADMONITION.match(line)
        if alert:
            line = alert.group(1).capitalize() + ":" + (f" {alert.group(2)}" if alert.group(2) else "")
        elif admonition:
            line = (admonition.group(2) or admonition.group(1).capitalize()) + ":"
        elif out and line.startswith("    ") and not line.lstrip()[:1].isdigit():
            line = line[4:]                                 # the body of an admonition
        line = _TASK.sub(r"\1• ", line)
        line = re.sub(r"^(\s*)[*+-]\s+", r"\1• ", line)
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = re.sub(r"^\s*>\s?", "", line)
        for pat, repl in _INLINE:
            line = pat.sub(repl, line)
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return "\n".join(out).strip()
