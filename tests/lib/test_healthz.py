import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
class TestHealthz:
    def test_it_reports_database_and_queue(self, client):
        r = client.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {
            "database": "ok",
            "queue": "eager" if settings.JOBS_EAGER else "ok",
        }

    def test_it_needs_no_login_and_is_not_cached(self, client):
        r = client.get("/healthz")
        assert "no-cache" in r["Cache-Control"] or "max-age=0" in r["Cache-Control"]

    def test_it_returns_503_naming_redis_when_redis_is_down(self, client, settings):
        # A port nothing listens on: a real refused connection, not a mock.
        settings.JOBS_EAGER = False
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        r = client.get("/healthz")
        assert r.status_code == 503
        assert r.json()["queue"] == "down"
        assert r.json()["failing"] == ["queue"]
        assert r.json()["database"] == "ok"

    def test_it_returns_503_naming_the_database_when_it_is_down(self):
        # A separate process whose database is a port nothing listens on: a real failure.
        script = (
            "import django, json; django.setup();"
            "from django.test import Client;"
            "r = Client().get('/healthz'); print(r.status_code, r.content.decode())"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": "postgres://vigil@127.0.0.1:1/vigil",
            "REDIS_URL": "",
        }
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        status, body = result.stdout.strip().split(" ", 1)
        assert status == "503"
        assert json.loads(body) == {"database": "down", "queue": "eager", "failing": ["database"]}

    def test_it_refuses_post(self, client):
        assert client.post("/healthz").status_code == 405
