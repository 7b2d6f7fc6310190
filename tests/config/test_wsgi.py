"""The WSGI entry point (runserver's and gunicorn's) starts the embedded mode's background
scheduler: without Redis the serving process runs the periodic work itself, no cron needed."""

from tests.config.test_settings import load_settings

THREADS = "import config.wsgi, threading; print(sorted(t.name for t in threading.enumerate()))"


def test_the_server_runs_the_periodic_work_without_redis(tmp_path):
    result = load_settings(THREADS, VIGIL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "vigil-embedded-scheduler" in result.stdout


def test_with_redis_the_workers_do_it_instead(tmp_path):
    result = load_settings(
        THREADS, VIGIL_VAR_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 0, result.stderr
    assert "vigil-embedded-scheduler" not in result.stdout
