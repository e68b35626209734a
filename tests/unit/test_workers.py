"""CSKH_WORKERS > 1 makes replicas on one port: refused without what replicas need (Redis locks and
events), and without it `cskh run` exits 2 with the reason before loading anything."""
import os
import subprocess
import sys
from pathlib import Path

from cskh.settings import Settings

REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_one_worker_needs_nothing():
    assert settings().worker_problems() == []


def test_several_workers_need_the_redis_lock_store_and_events():
    problems = settings(workers=2).worker_problems()
    assert any("CSKH_LOCK_STORE_URL" in p for p in problems) and any("CSKH_EVENTS_URL" in p for p in problems)
    assert settings(workers=2, lock_store_url=REDIS, events_url=REDIS).worker_problems() == []
    assert any("polling" in p for p in settings(workers=3, lock_store_url=REDIS, events_url=REDIS,
                                                telegram_mode="polling").worker_problems())
    assert settings(workers=0).worker_problems() == ["CSKH_WORKERS must be at least 1"]


def test_cskh_run_refuses_several_workers_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSKH_")}
    env.update(CSKH_WORKERS="2", CSKH_APP_DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}")
    done = subprocess.run([sys.executable, "-m", "cskh.cli", "run"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "CSKH_LOCK_STORE_URL" in done.stderr + done.stdout
    assert not (tmp_path / "app.db").exists()  # refused before touching anything
