"""HTTP Range parsing (RFC 9110 §14): what each header gives for a file of a known size."""

import pytest

from cti.recordings.ranges import ByteRange, RangeNotSatisfiable, parse_range

SIZE = 96364  # the captured north-13800138000-1795710920.0.wav


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=0-1023", ByteRange(0, 1023)),
        ("bytes=100-", ByteRange(100, SIZE - 1)),
        ("bytes=0-", ByteRange(0, SIZE - 1)),
        ("bytes=90000-999999999", ByteRange(90000, SIZE - 1)),  # end clamped
        ("bytes=-500", ByteRange(SIZE - 500, SIZE - 1)),  # suffix
        ("bytes=-999999", ByteRange(0, SIZE - 1)),  # suffix longer than the file
        ("bytes=96363-", ByteRange(SIZE - 1, SIZE - 1)),  # the last byte
        ("BYTES = 5 - 9", ByteRange(5, 9)),  # case and spaces tolerated
    ],
)
def test_satisfiable_ranges(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "items=0-5",  # another unit
        "bytes=5-1",  # last < first: invalid, ignored
        "bytes=abc",
        "bytes=-",
        "bytes=0-5,10-20",  # several ranges: whole file
        "bytes=1-2-3",
        "bytes=../../etc/passwd",
    ],
)
def test_ignored_headers_mean_the_whole_file(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    [
        "bytes=96364-",
        "bytes=96364-96400",
        "bytes=1000000-",
        "bytes=-0",
        "bytes=99999999999999999999-",
    ],
)
def test_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable) as err:
        parse_range(header, SIZE)
    assert err.value.content_range == f"bytes */{SIZE}"


def test_any_range_of_an_empty_file_is_unsatisfiable():
    for header in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 0)


def test_content_range_and_length():
    r = ByteRange(10, 19)
    assert r.length == 10
    assert r.content_range(SIZE) == f"bytes 10-19/{SIZE}"
