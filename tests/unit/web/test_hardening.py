"""The hardening middleware, fed ASGI messages: the security headers on every HTTP answer
(a route's own value kept, never two of one header), the count by method and status, and
WebSocket and lifespan scopes left alone."""

from __future__ import annotations

from collections import Counter

from cti.web.hardening import SECURITY_HEADERS, Hardening


def app_answering(status: int, headers: list[tuple[bytes, bytes]]):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def run(middleware, scope):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


async def test_every_header_is_added_and_the_answer_counted():
    counts: Counter = Counter()
    sent = await run(
        Hardening(app_answering(200, [(b"content-type", b"text/html")]), counts),
        {"type": "http", "method": "GET", "path": "/"},
    )
    headers = sent[0]["headers"]
    assert headers[0] == (b"content-type", b"text/html")
    assert set(SECURITY_HEADERS) <= set(headers)
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}
    assert counts == Counter({("GET", 200): 1})


async def test_a_routes_own_header_is_kept_and_not_doubled():
    own = (b"Content-Security-Policy", b"default-src 'none'")
    counts: Counter = Counter()
    sent = await run(
        Hardening(app_answering(404, [own]), counts),
        {"type": "http", "method": "POST", "path": "/x"},
    )
    names = [name.lower() for name, _ in sent[0]["headers"]]
    assert names.count(b"content-security-policy") == 1
    assert own in sent[0]["headers"]
    assert names.count(b"x-frame-options") == 1
    assert counts == Counter({("POST", 404): 1})


async def test_websocket_and_lifespan_scopes_pass_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])
        await send({"type": "websocket.accept", "headers": []})

    counts: Counter = Counter()
    for kind in ("websocket", "lifespan"):
        sent = await run(Hardening(app, counts), {"type": kind})
        assert sent == [{"type": "websocket.accept", "headers": []}]
    assert seen == ["websocket", "lifespan"]
    assert not counts
