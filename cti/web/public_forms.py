"""What the public site's pages share: the locale, the page context, reading a form
through the abuse guard (``cti.public.guard``), and the refusal page.

A public form is read here, never by FastAPI's ``Form()``: an oversized or unexpected
field must be refused with a page and counted, not answered with the API's JSON 422. The
body is read up to :data:`MAX_BODY` bytes and parsed as ``application/x-www-form-urlencoded``
(what a browser sends without JavaScript).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response

from cti.public import guard
from cti.public.site import PublicSite
from cti.public.texts import DEFAULT, HTML_LANG, LOCALES, choose_locale, texts_for
from cti.web.deps import client_ip

MAX_BODY = 32 * 1024
#: At most this many values of one field (the company form's checkboxes).
MAX_VALUES = 100
HONEYPOT = "website"
FORM_TOKEN_FIELD = "token"  # noqa: S105 (a field name, not a secret)

#: The refusal page's and the re-shown form's statuses, for ``responses=``.
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "refused: forged or expired form token, sent too fast, honeypot "
        "filled, unreadable form (a page saying why)",
        "content": {"text/html": {}},
    },
    413: {"description": "refused: the form or a field is too large", "content": {"text/html": {}}},
    422: {
        "description": "a value is not valid (the form again, with why)",
        "content": {"text/html": {}},
    },
    429: {"description": "refused: too many submissions", "content": {"text/html": {}}},
}


def site_of(request: Request) -> PublicSite:
    return request.app.state.public_site


def now_s() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class Submitted:
    """A parsed form: every value of every field, in the order sent."""

    values: Mapping[str, tuple[str, ...]]

    def one(self, name: str) -> str:
        found = self.values.get(name, ())
        return found[0] if found else ""

    def many(self, name: str) -> list[str]:
        return [v for v in self.values.get(name, ()) if v]

    def firsts(self) -> dict[str, str]:
        return {k: v[0] if v else "" for k, v in self.values.items()}


def locale_of(request: Request, submitted: Submitted | None = None) -> str:
    """The form's ``lang`` (once read, even if then refused), else ``?lang=``, else the
    browser's languages."""
    if submitted is not None:
        asked = submitted.one("lang")
    else:
        asked = getattr(request.state, "form_lang", None) or request.query_params.get("lang")
    return choose_locale(asked, request.headers.get("accept-language"))


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    locale: str,
    status_code: int = 200,
) -> Response:
    """A public page in ``locale``: every template gets ``t`` (the texts), ``lang``,
    ``q`` (the query string that keeps the locale on links) and the other locale's link."""
    other = next(code for code in LOCALES if code != locale)
    q = "" if locale == DEFAULT else f"?lang={locale}"
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {
            "t": texts_for(locale),
            "lang": locale,
            "html_lang": HTML_LANG[locale],
            "q": q,
            "amp_lang": "" if locale == DEFAULT else f"&lang={locale}",
            "other_href": f"{request.url.path}?lang={other}",
            "other_lang": HTML_LANG[other],
            **context,
        },
        status_code=status_code,
    )


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise guard.Refused("too_large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise guard.Refused("too_large")
    return body


async def read_form(
    request: Request, form: str, limits: Mapping[str, int], *, token: bool = True
) -> Submitted:
    """The submitted form once every check of the guard passed: body size, parse, every
    field's size, the honeypot, the form token (when ``token``) and the address's rate.
    Raises :class:`guard.Refused`."""
    site = site_of(request)
    body = await _body(request)
    content_type = request.headers.get("content-type", "")
    if body and not content_type.startswith("application/x-www-form-urlencoded"):
        raise guard.Refused("invalid", "not a form")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=400
        )
    except (UnicodeDecodeError, ValueError):
        raise guard.Refused("invalid", "the form could not be read") from None
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    request.state.form_lang = (values.get("lang") or [""])[0][:8]
    for name, items in values.items():
        if len(items) > MAX_VALUES:
            raise guard.Refused("oversize", f"too many values of {name[:40]!r}", field=name[:40])
        for item in items:
            guard.check_sizes({name: item}, limits)
    submitted = Submitted({k: tuple(v) for k, v in values.items()})
    guard.check_honeypot(submitted.values.get(HONEYPOT, ("",))[0])
    now = now_s()
    if token:
        guard.check_token(
            site.secret, form, submitted.one(FORM_TOKEN_FIELD), now, site.token_policy
        )
    window = site.limiters.status_ip if form == "status" else site.limiters.submit_ip
    guard.check_rate(window, client_ip(request) or "-", now, "rate_ip")
    return submitted


def form_page(
    request: Request,
    template: str,
    form_name: str,
    context: Mapping[str, Any],
    *,
    locale: str,
    form: Mapping[str, Any],
    errors: Mapping[str, str] | None,
    status_code: int = 200,
) -> Response:
    """A public form's page: ``context`` plus what every form shows, the values as typed
    (``form``), the errors by field and a fresh token for ``form_name``."""
    return page(
        request,
        template,
        {**context, "form": form, "errors": errors or {}, "token": new_token(request, form_name)},
        locale=locale,
        status_code=status_code,
    )


def new_token(request: Request, form: str) -> str:
    return guard.issue_token(site_of(request).secret, form, now_s())


def refused(request: Request, form: str, exc: guard.Refused, back: str) -> Response:
    """The page saying why a submission was refused (in the form's language), counted
    under its reason."""
    site_of(request).counters.refused[(form, exc.reason)] += 1
    reason = exc.reason
    return page(
        request,
        "public/refused.html",
        {"reason": reason, "back": back},
        locale=locale_of(request),
        status_code=(
            429
            if reason.startswith("rate")
            else 413
            if reason in ("too_large", "oversize")
            else 400
        ),
    )


def count_invalid(request: Request, form: str) -> None:
    site_of(request).counters.refused[(form, "invalid")] += 1


def count_taken(request: Request, form: str) -> None:
    site_of(request).counters.accepted[form] += 1
