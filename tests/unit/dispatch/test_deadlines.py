"""cti.dispatch.service.deadlines and the notifier's SMTP settings (pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti.dispatch.notifier import SmtpConfig
from cti.dispatch.service import deadlines
from cti.settings import Settings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_deadlines_count_from_the_dispatch():
    assert deadlines(NOW, 120, 72) == (NOW + timedelta(hours=2), NOW + timedelta(hours=72))


def test_finishing_is_never_due_before_accepting():
    """A county may allow a week to accept and one hour to finish: finish_by is then the
    acceptance deadline (the table's deadline_order check holds)."""
    accept_by, finish_by = deadlines(NOW, 10080, 1)
    assert accept_by == NOW + timedelta(days=7) and finish_by == accept_by


def test_no_smtp_host_no_email_and_the_password_is_not_printed(tmp_path):
    assert SmtpConfig.from_settings(Settings(_env_file=None, data_dir=tmp_path)) is None
    config = SmtpConfig.from_settings(
        Settings(
            _env_file=None,
            data_dir=tmp_path,
            smtp_host="mail.example.org",
            smtp_user="hotline",
            smtp_password="pa55word",
            smtp_starttls=False,
        )
    )
    assert config is not None and config.host == "mail.example.org" and config.port == 587
    assert config.password == "pa55word" and not config.starttls
    assert "pa55word" not in repr(config)
