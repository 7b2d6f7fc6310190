import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Without Redis the serving process also runs the periodic work, in a background thread (once per
# process; does nothing with Redis): moderation/periodic/embedded.py.
from moderation.periodic.embedded import background_start  # noqa: E402

background_start()
