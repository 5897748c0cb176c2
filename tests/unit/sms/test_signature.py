"""The webhook signature check (pure): the companies' scheme, a window either way."""

import pytest

from cti.dispatch import notify
from cti.sms import signature

SECRET = "s3cret"
BODY = b'{"message_id":"m1","from":"13900000000","text":"hi"}'


def _check(ts, sig, body=BODY, now=1_000_000.0, window=300):
    return signature.check(SECRET, ts, sig, body, now_s=now, window_s=window)


def test_a_good_signature_within_the_window_passes():
    ts = 1_000_000 - 299
    assert _check(str(ts), notify.sign(SECRET, ts, BODY)) == ts
    assert _check(str(ts), notify.sign(SECRET, ts, BODY).upper()) == ts  # hex case


@pytest.mark.parametrize(
    ("ts", "sig", "body"),
    [
        (None, "ab", BODY),
        ("1000000", None, BODY),
        ("1000000", "", BODY),
        ("10e5", notify.sign(SECRET, 1_000_000, BODY), BODY),
        ("-1000000", notify.sign(SECRET, -1_000_000, BODY), BODY),
        ("1000000", notify.sign("other", 1_000_000, BODY), BODY),
        ("1000000", notify.sign(SECRET, 1_000_000, BODY), BODY + b" "),
        ("1000000", notify.sign(SECRET, 1_000_001, BODY), BODY),
        ("1000000", "x" * 5000, BODY),
    ],
)
def test_bad_signatures_are_refused(ts, sig, body):
    with pytest.raises(signature.Refused) as refused:
        _check(ts, sig, body)
    assert refused.value.reason == "bad_signature"


@pytest.mark.parametrize("ts", [1_000_000 - 301, 1_000_000 + 301])
def test_old_and_future_timestamps_are_stale(ts):
    with pytest.raises(signature.Refused) as refused:
        _check(str(ts), notify.sign(SECRET, ts, BODY))
    assert refused.value.reason == "stale"


def test_headers_sign_what_check_accepts():
    headers = signature.headers(SECRET, 1_000_000, BODY)
    ts, sig = headers[signature.TIMESTAMP_HEADER], headers[signature.SIGNATURE_HEADER]
    assert _check(ts, sig) == 1_000_000
