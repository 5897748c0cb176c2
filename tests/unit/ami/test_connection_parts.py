"""Pure parts of the connection and service: backoff, credential check, metric labels."""

from __future__ import annotations

import pytest

from cti.ami.connection import AmiConnection, Backoff
from cti.ami.service import _labels
from cti.settings import AmiNode


def test_backoff_grows_then_caps_and_jitters_within_bounds() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, factor=2.0, jitter=0.2)
    assert [backoff.delay(n, rand=lambda: 0.5) for n in range(8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    assert backoff.delay(3, rand=lambda: 0.0) == pytest.approx(3.2)
    assert backoff.delay(3, rand=lambda: 1.0) == pytest.approx(4.8)


@pytest.mark.parametrize("secret", ["a\r\nAction: Originate", "x\ny"])
def test_line_breaks_in_credentials_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="line breaks"):
        AmiConnection(AmiNode("n", "127.0.0.1", 5038, "hotline", secret), lambda n, m: None)


def test_metric_labels_are_escaped() -> None:
    assert _labels(node='a"b\\c\nd') == '{node="a\\"b\\\\c\\nd"}'
