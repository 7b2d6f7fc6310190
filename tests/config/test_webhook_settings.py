"""Webhook delivery settings are checked at start-up, so a bad one never fails at delivery time."""

import pytest

from tests.config.test_settings import load_settings

SECRET = "s" * 40


def load(**env):
    base = {
        "SECRET_KEY": "x" * 50,
        "DEBUG": "false",
        "PLATFORM_WEBHOOK_URL": "",
        "PLATFORM_WEBHOOK_SECRET": "",
        "PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "",
        "PLATFORM_WEBHOOK_RETRY_INTERVALS": "",
    }
    return load_settings(**{**base, **env})


class TestWebhookSettings:
    def test_it_starts_without_delivery_configured(self):
        assert load().returncode == 0

    @pytest.mark.parametrize(
        "url",
        [
            "https://platform.example/hooks/vigil",
            "http://127.0.0.1:9000/hook",
            "http://localhost/h",
        ],
    )
    def test_it_accepts_https_or_a_local_receiver(self, url):
        result = load(PLATFORM_WEBHOOK_URL=url, PLATFORM_WEBHOOK_SECRET=SECRET)
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize(
        "env, message",
        [
            (
                {"PLATFORM_WEBHOOK_URL": "https://p.example/h"},
                "PLATFORM_WEBHOOK_SECRET must be set",
            ),
            (
                {"PLATFORM_WEBHOOK_URL": "https://p.example/h", "PLATFORM_WEBHOOK_SECRET": "short"},
                "at least 32 characters",
            ),
            ({"PLATFORM_WEBHOOK_SECRET": SECRET}, "PLATFORM_WEBHOOK_URL is not"),
            (
                {"PLATFORM_WEBHOOK_URL": "http://p.example/h", "PLATFORM_WEBHOOK_SECRET": SECRET},
                "must use https://",
            ),
            (
                {"PLATFORM_WEBHOOK_URL": "ftp://p.example/h", "PLATFORM_WEBHOOK_SECRET": SECRET},
                "https:// URL with a host",
            ),
            (
                {
                    "PLATFORM_WEBHOOK_URL": "https://u:pw@p.example/h",
                    "PLATFORM_WEBHOOK_SECRET": SECRET,
                },
                "must not carry credentials",
            ),
            (
                {
                    "PLATFORM_WEBHOOK_URL": "https://p.example/h",
                    "PLATFORM_WEBHOOK_SECRET": SECRET,
                    "PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "600",
                },
                "between 1 and 60",
            ),
            (
                {
                    "PLATFORM_WEBHOOK_URL": "https://p.example/h",
                    "PLATFORM_WEBHOOK_SECRET": SECRET,
                    "PLATFORM_WEBHOOK_RETRY_INTERVALS": "30,soon",
                },
                "comma-separated whole numbers",
            ),
            (
                {
                    "PLATFORM_WEBHOOK_URL": "https://p.example/h",
                    "PLATFORM_WEBHOOK_SECRET": SECRET,
                    "PLATFORM_WEBHOOK_RETRY_INTERVALS": "30,0",
                },
                "1 to 86400 seconds",
            ),
        ],
    )
    def test_it_refuses_a_configuration_that_would_fail_or_leak(self, env, message):
        result = load(**env)
        assert result.returncode != 0
        assert message in result.stderr
