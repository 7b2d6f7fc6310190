"""The JSON API under /api/v1/ (django-ninja), assembled: who may call it, the error shape, and
each domain's router (each lives beside its code). Nothing else lives here."""

from ninja import NinjaAPI

from accounts.api import BearerToken, ConsoleSession
from lib.api import install_error_handlers
from moderation.banks.api import router as bank_router
from moderation.dsa.api import router as dsa_router
from moderation.escalations.api import router as escalation_router
from moderation.exchanges.feed_api import router as feed_router
from moderation.review.api import router as review_router
from moderation.review.appeals_api import router as appeal_router
from reports.api import router as reports_router

api = NinjaAPI(
    title="Vigil API",
    version="1",
    description="Reports, flags and review data for the platform Vigil serves. "
    "Authenticate with `Authorization: Bearer <token>`; tokens are created with "
    "`manage.py create_api_token` or by an administrator.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=[BearerToken(), ConsoleSession()],
)

install_error_handlers(api)
api.add_router("/", reports_router)
api.add_router("/", review_router)
api.add_router("/", bank_router)
api.add_router("/", appeal_router)
api.add_router("/", escalation_router)
api.add_router("/", dsa_router)
api.add_router("/", feed_router)
