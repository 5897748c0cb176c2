"""What a citizen's text says: STOP, START, a score, or text (pure)."""

import pytest

from cti.sms.replies import Reply, ReplyKind, classify

SCORE = ReplyKind.SCORE
TEXT = Reply(ReplyKind.TEXT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Reply(ReplyKind.OPT_OUT)),
        (" stop. ", Reply(ReplyKind.OPT_OUT)),
        ("ＳＴＯＰ", Reply(ReplyKind.OPT_OUT)),  # full-width letters
        ("退订", Reply(ReplyKind.OPT_OUT)),
        ("TD", Reply(ReplyKind.OPT_OUT)),
        ("Unsubscribe!", Reply(ReplyKind.OPT_OUT)),
        ("start", Reply(ReplyKind.OPT_IN)),
        ("5", Reply(SCORE, 5)),
        ("1\n", Reply(SCORE, 1)),
        ("４", Reply(SCORE, 4)),  # full-width digit
        ("3。", Reply(SCORE, 3)),
        ("0", TEXT),
        ("6", TEXT),
        ("10", TEXT),
        ("4.5", TEXT),
        ("five", TEXT),
        ("5 stars", TEXT),
        ("please stop the plumber coming", TEXT),
        ("<script>stop</script>", TEXT),
        ("", TEXT),
    ],
)
def test_classify(text, expected):
    assert classify(text) == expected
