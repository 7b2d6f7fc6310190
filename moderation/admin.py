"""Django's admin loads `<app>.admin`: each domain registers its own models in
`moderation/<domain>/admin.py`, and this module only imports them."""

from moderation.audit import admin as audit_admin
from moderation.banks import admin as banks_admin
from moderation.cases import admin as cases_admin
from moderation.exchanges import admin as exchanges_admin
from moderation.notices import admin as notices_admin

__all__ = ["audit_admin", "banks_admin", "cases_admin", "exchanges_admin", "notices_admin"]
