"""Display helpers for the chapters: visible notices for fallbacks and missing assets, paper-vs-book tables.

A chapter that cannot get an asset must say so in the rendered page. :func:`notice` renders an
admonition box (HTML styled like Jupyter Book's admonitions, readable in plain Jupyter too) and also
returns the text so that it can be recorded in the chapter's results JSON.
"""

from __future__ import annotations

import html
from typing import Any

_STYLES = {
    "fallback": ("warning", "Fallback in use", "#fff4e5", "#f0ad4e"),
    "missing": ("danger", "Needs a download", "#fdecea", "#d9534f"),
    "note": ("note", "Note", "#e7f2fa", "#6ab0de"),
    "paper": ("tip", "From the paper", "#eaf7ee", "#5cb85c"),
}


def notice(kind: str, text: str, *, title: str | None = None, display: bool = True) -> str:
    """Show an admonition. ``kind`` is one of ``fallback``, ``missing``, ``note``, ``paper``."""
    if kind not in _STYLES:
        raise ValueError(f"kind={kind!r} is not valid; valid values are: {', '.join(_STYLES)}")
    cls, default_title, bg, border = _STYLES[kind]
    title = title or default_title
    body = (
        f'<div class="admonition {cls}" style="background:{bg};border-left:4px solid {border};'
        f'padding:0.4em 0.8em;margin:0.6em 0;">'
        f'<p class="admonition-title" style="font-weight:bold;margin:0;">{html.escape(title)}</p>'
        f"<p style=\"margin:0.3em 0 0 0;\">{html.escape(text)}</p></div>"
    )
    if display:
        try:
            from IPython.display import HTML
            from IPython.display import display as _display

            _display(HTML(body))
        except ImportError:  # pragma: no cover - IPython is always there in the book
            print(f"[{title}] {text}")
    return f"{title}: {text}"


def paper_vs_book(rows: list[dict[str, Any]], *, caption: str | None = None):
    """A small DataFrame ``quantity | paper | book | note`` for display next to a figure."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if caption:
        df.attrs["caption"] = caption
    return df
