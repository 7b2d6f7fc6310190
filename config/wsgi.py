import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Without Redis the serving process also runs the periodic work, in a background thread (once per
# process; does nothing with Redis): moderation/periodic/embedded.py. Intake's own sweeps are added
# here, above both layers.
from moderation.periodic.embedded import BACKGROUND, background_start  # noqa: E402
from reports.links import EMBEDDED_LINK_RETRIES  # noqa: E402

TASKS = (*BACKGROUND, EMBEDDED_LINK_RETRIES)
background_start(TASKS)
