"""The few HTML pages the browser sees during consent: small, static, locked down.

The callback URL carries an authorization code, so these pages load nothing
(CSP `default-src 'none'`, styles allowed only by hash), send no Referer,
cannot be framed, are never cached, and carry no CORS headers: no other
origin has any business reading them. Every interpolated string is escaped,
though only fixed text is ever passed in.
"""

from __future__ import annotations

import base64
import hashlib
import html

from flask import Response

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
    "padding:0 1rem;color:#202124}h1{font-size:1.4rem}p{line-height:1.5}"
    "button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def _csp(form_action: str | None) -> str:
    parts = [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        f"form-action {form_action}" if form_action else "form-action 'none'",
    ]
    return "; ".join(parts)


def page(
    status: int, title: str, message: str, *, body_html: str = "", form_action: str | None = None
) -> Response:
    """A complete page; `body_html` must already be escaped by the caller."""
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{body_html}</body></html>"
    )
    return Response(
        document,
        status=status,
        mimetype="text/html",
        headers={
            "Content-Security-Policy": _csp(form_action),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )


def connected() -> Response:
    return page(
        200,
        "Connected",
        "Meeting prep can now keep your calendar in sync. You can close this window.",
    )


def declined() -> Response:
    return page(
        200,
        "Not connected",
        "You chose not to give access, so nothing was connected. "
        "You can close this window and connect later from the sidebar.",
    )


def scopes_missing() -> Response:
    return page(
        400,
        "Calendar access is needed",
        "Meeting prep needs to read your calendar events to prepare you for meetings. "
        "Close this window and connect again from the sidebar, leaving calendar access ticked.",
    )


def wrong_account() -> Response:
    return page(
        400,
        "Different Google account",
        "The account you chose is not the one you are using Meeting prep with. "
        "Close this window and connect again from the sidebar with the same account.",
    )


def invalid_link() -> Response:
    return page(
        400,
        "This link has expired",
        "This sign-in link is invalid, expired or already used. "
        "Close this window and start again from the sidebar.",
    )


def try_again() -> Response:
    return page(
        503,
        "Please try again",
        "Google could not be reached to finish connecting. "
        "Close this window and start again from the sidebar in a moment.",
    )


def not_found() -> Response:
    return page(404, "Not found", "There is nothing here.")
