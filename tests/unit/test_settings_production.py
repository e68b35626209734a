"""CSKH_ENV=production refuses to start with placeholder or missing secrets."""
import pytest

from cskh.settings import Settings

REAL = "0b7f2c1e9a4d4c55a1f3e8d2c6b9a7e4"


def production(**values) -> Settings:
    return Settings(_env_file=None, env="production", admin_token=values.pop("admin_token", REAL), **values)


@pytest.mark.parametrize("token", ["change-me", "", "  ", "CHANGEME", "secret", "admin"])
def test_a_placeholder_admin_token_is_refused(token):
    with pytest.raises(RuntimeError, match="CSKH_ADMIN_TOKEN"):
        production(admin_token=token).check_production()


def test_telegram_without_its_webhook_secret_is_refused():
    with pytest.raises(RuntimeError, match="CSKH_TELEGRAM_SECRET"):
        production(telegram_token="123:abc").check_production()
    with pytest.raises(RuntimeError, match="CSKH_TELEGRAM_SECRET"):
        production(telegram_token="123:abc", telegram_secret="change-me").check_production()
    production(telegram_token="123:abc", telegram_secret="a-real-webhook-secret_42").check_production()


@pytest.mark.parametrize("zalo", [{"zalo_app_id": "3608"}, {"zalo_access_token": "tok"},
                                  {"zalo_refresh_token": "ref"}, {"zalo_app_id": "3608", "zalo_oa_secret": " "}])
def test_zalo_without_its_oa_secret_is_refused(zalo):
    with pytest.raises(RuntimeError, match="CSKH_ZALO_OA_SECRET"):
        production(**zalo).check_production()


def test_every_problem_is_reported_at_once():
    problems = production(admin_token="change-me", telegram_token="1:x", zalo_app_id="1").production_problems()
    assert len(problems) == 3


def test_a_fully_configured_production_starts():
    production(telegram_token="1:x", telegram_secret="s3cr3t-telegram-token", zalo_app_id="1",
               zalo_oa_secret="oa-secret-key", zalo_access_token="a").check_production()
    production().check_production()  # no channel configured: nothing else needed


def test_outside_production_placeholders_are_fine():
    for env in ("development", "test"):
        Settings(_env_file=None, env=env, admin_token="change-me", telegram_token="1:x").check_production()


def test_a_placeholder_metrics_token_is_refused_in_production():
    with pytest.raises(RuntimeError, match="CSKH_METRICS_TOKEN"):
        production(metrics_token="secret").check_production()


def test_log_format_defaults_to_json_in_production_only():
    assert production().effective_log_format == "json"
    assert Settings(_env_file=None, env="development").effective_log_format == "text"
    assert Settings(_env_file=None, env="production", log_format="text").effective_log_format == "text"
    with pytest.raises(ValueError):
        Settings(_env_file=None, log_format="xml")


def test_cskh_run_refuses_to_start_and_says_why(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, CSKH_ENV="production", CSKH_ADMIN_TOKEN=REAL, CSKH_TELEGRAM_TOKEN="1:x",
               CSKH_APP_DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}")
    env.pop("CSKH_TELEGRAM_SECRET", None)
    done = subprocess.run([sys.executable, "-m", "cskh.cli", "run", "--port", "1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    line = json.loads(done.stderr.strip().splitlines()[-1])  # production logs are JSON
    assert line["level"] == "ERROR" and "CSKH_TELEGRAM_SECRET" in line["message"]
