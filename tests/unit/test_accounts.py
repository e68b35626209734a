from datetime import datetime, timedelta, timezone

import pytest

from handoff.accounts import AccountError, Accounts, hash_password, verify_password
from shop import make_engine


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("mật khẩu dài 123"), hash_password("mật khẩu dài 123")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("mật khẩu dài 123", first) and not verify_password("sai rồi", first)


def test_login_session_and_expiry(tmp_path):
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    accounts = Accounts(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), session_minutes=30, clock=lambda: now[0])
    accounts.create("lan", "correct horse battery", role="agent", display_name="Lan")
    assert accounts.login("lan", "wrong password!") is None
    assert accounts.login("nobody", "correct horse battery") is None
    session = accounts.login("lan", "correct horse battery")
    assert accounts.session(session.token).user.role == "agent" and session.csrf
    now[0] += timedelta(minutes=31)
    assert accounts.session(session.token) is None


def test_account_rules(tmp_path):
    accounts = Accounts(make_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    with pytest.raises(AccountError):
        accounts.create("lan", "short")
    with pytest.raises(AccountError):
        accounts.create("lan", "long enough pw", role="king")
    accounts.create("lan", "long enough pw")
    with pytest.raises(AccountError):
        accounts.create("lan", "long enough pw")
