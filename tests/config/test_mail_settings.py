"""Mail settings come from the environment: the console in the demo, SMTP in production (never
reporters' addresses in production logs by default), and a contradiction refused at start-up."""

from tests.config.test_settings import POSTGRES, load_settings

SHOW = "print(s.EMAIL_BACKEND.rsplit('.', 2)[1], s.EMAIL_HOST, s.EMAIL_PORT, s.PUBLIC_URL or '-')"
EMAIL_VARIABLES = {
    name: ""
    for name in (
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_USE_TLS",
        "EMAIL_USE_SSL",
        "DEFAULT_FROM_EMAIL",
        "VIGIL_PUBLIC_URL",
    )
}


def settings_with(tmp_path, code=SHOW, **env):
    return load_settings(code, VIGIL_VAR_DIR=str(tmp_path), **{**EMAIL_VARIABLES, **env})


class TestMailSettings:
    def test_the_demo_prints_mail_to_the_console(self, tmp_path):
        result = settings_with(tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["console", "localhost", "25", "http://127.0.0.1:8000"]

    def test_production_sends_by_smtp_as_configured(self, tmp_path):
        result = settings_with(
            tmp_path,
            DATABASE_URL=POSTGRES,
            SECRET_KEY="k" * 50,
            EMAIL_HOST="smtp.example.org",
            EMAIL_PORT="587",
            EMAIL_USE_TLS="true",
            VIGIL_PUBLIC_URL="https://report.example.org/",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [
            "smtp",
            "smtp.example.org",
            "587",
            "https://report.example.org",
        ]

    def test_tls_and_ssl_together_are_refused(self, tmp_path):
        result = settings_with(tmp_path, EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
        assert result.returncode != 0
        assert "EMAIL_USE_TLS" in result.stderr and "not both" in result.stderr
