import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.DATABASES['default']['ENGINE'], s.JOBS_EAGER)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


class TestSettings:
    def test_it_refuses_the_development_key_when_debug_is_off(self):
        result = load_settings(DEBUG="false")
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    def test_it_allows_the_development_key_in_debug(self, tmp_path):
        result = load_settings(
            DEBUG="true", DATABASE_URL="", REDIS_URL="", VIGIL_VAR_DIR=str(tmp_path)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]

    def test_it_uses_postgres_and_rq_when_urls_are_set(self):
        result = load_settings(
            SECRET_KEY="x" * 50,
            DATABASE_URL="postgres://u@127.0.0.1:5432/vigil",
            REDIS_URL="redis://127.0.0.1:6379/0",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.postgresql", "False"]

    def test_it_rejects_a_malformed_boolean(self):
        result = load_settings(DEBUG="maybe")
        assert result.returncode != 0
        assert "DEBUG must be a boolean" in result.stderr
