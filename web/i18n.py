"""UI language: English and Chinese labels for every page. The reader's language comes from
the ``kb_lang`` cookie (set by the switcher), else from Accept-Language, else English.

Labels are written in English in the templates as ``_("…")`` and translated from the catalog
in web/i18n_zh.py (a test checks every label has a translation). Article text is never
translated: articles carry their own language.
"""
from __future__ import annotations

from flask import Flask, g, request

from web.i18n_zh import PRODUCTS, ZH

LANGUAGES = {"en": "English", "zh": "中文"}
COOKIE = "kb_lang"


def choose() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for value, _quality in request.accept_languages:   # best first
        primary = value.split("-")[0].split("_")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


def locale() -> str:
    if "locale" not in g:
        g.locale = choose() if request else "en"
    return g.locale


def gettext(message: str, **values) -> str:
    text = ZH.get(message, message) if locale() == "zh" else message
    return text.format(**values) if values else text


def product_label(product: str) -> str:
    names = PRODUCTS.get(product)
    if names is None:
        return (product or "—").replace("-", " ").replace("_", " ").capitalize()
    return names[1] if locale() == "zh" else names[0]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, locale=locale, product_label=product_label,
                                 LANGUAGES=LANGUAGES)
