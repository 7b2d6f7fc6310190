from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self):
        # SQLite's append-only trigger on the audit table asks each connection for this function.
        from moderation.audit.append_only import register_allow_delete

        register_allow_delete()
