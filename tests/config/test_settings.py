"""Settings come from the environment (config/settings.py): loaded in a fresh interpreter, as a
shell would, never from this test process's own environment (the test settings add to it)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a shell has after `make demo`: none of Vigil's variables (bin/demo exported DEBUG only to its
# own processes). DJANGO_SETTINGS_MODULE too: pytest-django set it to the test settings.
VIGIL_VARIABLES = (
    "SECRET_KEY",
    "DEBUG",
    "DATABASE_URL",
    "REDIS_URL",
    "VIGIL_VAR_DIR",
    "PRIVATE_MEDIA_ROOT",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "DJANGO_SETTINGS_MODULE",
)
POSTGRES = "postgres://u@127.0.0.1:5432/vigil"


def shell_env(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in VIGIL_VARIABLES}
    clean.update(env)
    return clean


def load_settings(
    code: str = "print(s.DATABASES['default']['ENGINE'], s.JOBS_EAGER)", **env
) -> subprocess.CompletedProcess:
    """Import config.settings with `env` (on top of the shell's) and run `code` with it as `s`."""
    return subprocess.run(
        [sys.executable, "-c", f"import config.settings as s; {code}"],
        cwd=ROOT,
        env=shell_env(**env),
        capture_output=True,
        text=True,
    )


def manage(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=shell_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def secret_key(**env) -> str:
    result = load_settings("print(s.SECRET_KEY)", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class TestSettings:
    def test_it_uses_sqlite_and_in_process_jobs_by_default(self, tmp_path):
        result = load_settings(VIGIL_VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]

    def test_it_uses_postgres_and_rq_when_urls_are_set(self):
        result = load_settings(
            SECRET_KEY="x" * 50, DATABASE_URL=POSTGRES, REDIS_URL="redis://127.0.0.1:6379/0"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.postgresql", "False"]

    def test_it_rejects_a_malformed_boolean(self, tmp_path):
        result = load_settings(DEBUG="maybe", VIGIL_VAR_DIR=str(tmp_path))
        assert result.returncode != 0
        assert "DEBUG must be a boolean" in result.stderr


class TestSecretKey:
    def test_production_refuses_to_start_without_one(self, tmp_path):
        for debug in ({}, {"DEBUG": "false"}):
            result = load_settings(DATABASE_URL=POSTGRES, VIGIL_VAR_DIR=str(tmp_path), **debug)
            assert result.returncode != 0
            assert "SECRET_KEY must be set when DATABASE_URL is" in result.stderr
        assert not (tmp_path / "secret-key").exists()

    def test_the_embedded_default_makes_one_private_key_for_every_process(self, tmp_path):
        first = secret_key(VIGIL_VAR_DIR=str(tmp_path))
        key_file = tmp_path / "secret-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().strip() == first
        assert len(first) >= 50
        # The next command, and the demo server (DEBUG on), read the same key.
        assert secret_key(VIGIL_VAR_DIR=str(tmp_path)) == first
        assert secret_key(VIGIL_VAR_DIR=str(tmp_path), DEBUG="true") == first
        # Another checkout has its own.
        assert secret_key(VIGIL_VAR_DIR=str(tmp_path / "other")) != first
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret-key")] == []

    def test_a_key_from_the_environment_wins_and_no_file_is_made(self, tmp_path):
        assert secret_key(VIGIL_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 50) == "k" * 50
        assert not (tmp_path / "secret-key").exists()

    def test_a_key_file_that_holds_no_usable_key_is_refused(self, tmp_path):
        (tmp_path / "secret-key").write_text("\n")
        result = load_settings(VIGIL_VAR_DIR=str(tmp_path))
        assert result.returncode != 0
        assert "does not hold a usable secret key" in result.stderr


def test_after_make_demo_the_readmes_commands_work_in_the_users_shell(tmp_path):
    """bin/demo runs with DEBUG on; the user's own shell has none of Vigil's variables."""
    var = str(tmp_path)
    demo = manage("migrate", "--no-input", "-v0", VIGIL_VAR_DIR=var, DEBUG="true")
    assert demo.returncode == 0, demo.stderr
    made = manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group; from accounts.models import User; "
        "User.objects.create_user('admin1', password='pw').groups.add(Group.objects.get(name='admin'))",
        VIGIL_VAR_DIR=var,
        DEBUG="true",
    )
    assert made.returncode == 0, made.stderr

    check = manage("check", VIGIL_VAR_DIR=var)
    assert check.returncode == 0, check.stderr
    token = manage("create_api_token", "--user", "admin1", "--name", "x", VIGIL_VAR_DIR=var)
    assert token.returncode == 0, token.stderr
    assert len(token.stdout.strip()) > 20
    assert "Store it now" in token.stderr

    # Production (DATABASE_URL set) still refuses, before touching any database.
    refused = manage("check", VIGIL_VAR_DIR=var, DATABASE_URL=POSTGRES)
    assert refused.returncode != 0
    assert "SECRET_KEY must be set" in refused.stderr
