"""Roles are Django groups, created by a data migration, each granting the permissions below.

A role includes everything the roles below it may do. Code checks permissions, never group names,
so a deployment can grant a single permission to a custom group if it must.
"""

from enum import StrEnum


class Role(StrEnum):
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior reviewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # A machine account for the platform's integration: sends reports and flags, reads results.
    PLATFORM = "platform"


# Permission codenames, all defined on accounts.User's Meta so they exist from the first migration.
REVIEW = "accounts.review_cases"
SENIOR_REVIEW = "accounts.senior_review"
SUPERVISE = "accounts.supervise"
ADMINISTER = "accounts.administer"
SUBMIT_REPORTS = "accounts.submit_reports"
SUBMIT_FLAGS = "accounts.submit_flags"
API_READ = "accounts.api_read"
# Evidence preserved for a report to the authorities (18 U.S.C. 2258A): seen only by named roles.
PRESERVED_EVIDENCE = "accounts.access_preserved_evidence"

ROLE_PERMISSIONS = {
    Role.REVIEWER: [REVIEW, API_READ],
    Role.SENIOR_REVIEWER: [REVIEW, SENIOR_REVIEW, API_READ],
    Role.SUPERVISOR: [REVIEW, SENIOR_REVIEW, SUPERVISE, API_READ, PRESERVED_EVIDENCE],
    Role.ADMIN: [
        REVIEW,
        SENIOR_REVIEW,
        SUPERVISE,
        ADMINISTER,
        SUBMIT_REPORTS,
        SUBMIT_FLAGS,
        API_READ,
        PRESERVED_EVIDENCE,
    ],
    Role.PLATFORM: [SUBMIT_REPORTS, SUBMIT_FLAGS, API_READ],
}

# Highest first, so the first match names a user's role.
ROLES_BY_RANK = [Role.ADMIN, Role.SUPERVISOR, Role.SENIOR_REVIEWER, Role.REVIEWER, Role.PLATFORM]

# API token scopes and the permission that allows each.
SCOPE_PERMISSIONS = {"report": SUBMIT_REPORTS, "flag": SUBMIT_FLAGS, "read": API_READ}


def scopes_allowed(user) -> list[str]:
    return [scope for scope, perm in SCOPE_PERMISSIONS.items() if user.has_perm(perm)]
