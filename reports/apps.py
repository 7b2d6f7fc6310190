from django.apps import AppConfig
from django.conf import settings
from PIL import Image


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and flags"

    def ready(self):
        # Pillow's decompression-bomb guard, at our limit rather than its default.
        Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
