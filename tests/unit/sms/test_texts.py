"""What is texted, and to which number (pure)."""

import re

from cti.settings import Settings
from cti.sms import texts

MOBILE = re.compile(Settings.model_fields["sms_mobile_pattern"].default)


def test_the_texts_name_the_ticket():
    assert "T2026-000042" in texts.render("ticket_created", "T2026-000042")
    assert "STOP" in texts.render("ticket_created", "T2026-000042")
    question = texts.render("revisit_question", "T2026-000042")
    assert "T2026-000042" in question and "1 (poor) to 5 (excellent)" in question


def test_the_first_mobile_number_is_texted():
    assert texts.first_mobile(["5515550123", "13800138000", "13900139000"], MOBILE) == (
        "13800138000"
    )
    assert texts.first_mobile(["5515550123", "10086"], MOBILE) is None
    assert texts.first_mobile(["+447700900123"], MOBILE) == "+447700900123"
    assert texts.first_mobile(["1380013800"], MOBILE) is None  # 10 digits: not a mobile


def test_numbers_go_to_the_gateway_in_e164():
    assert texts.e164("13800138000", "86") == "+8613800138000"
    assert texts.e164("+447700900123", "86") == "+447700900123"
