from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and flags"

    def ready(self):
        from django.conf import settings
        from PIL import Image

        # Pillow's decompression-bomb guard, at our limit rather than its default.
        Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
