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


# Permission codenames, all defined on accounts.User's Meta so they exist from the first migration.
REVIEW = "accounts.review_cases"
SENIOR_REVIEW = "accounts.senior_review"
SUPERVISE = "accounts.supervise"
ADMINISTER = "accounts.administer"

ROLE_PERMISSIONS = {
    Role.REVIEWER: [REVIEW],
    Role.SENIOR_REVIEWER: [REVIEW, SENIOR_REVIEW],
    Role.SUPERVISOR: [REVIEW, SENIOR_REVIEW, SUPERVISE],
    Role.ADMIN: [REVIEW, SENIOR_REVIEW, SUPERVISE, ADMINISTER],
}

# Highest first, so the first match names a user's role.
ROLES_BY_RANK = [Role.ADMIN, Role.SUPERVISOR, Role.SENIOR_REVIEWER, Role.REVIEWER]
