"""The dsa pages' URLs (public contract: names and paths stay)."""

from django.urls import path

from moderation.dsa import views as dsa_views

urlpatterns = [
    path(
        "supervise/statements-of-reasons/",
        dsa_views.statements_of_reasons,
        name="statements_of_reasons",
    ),
    path(
        "supervise/statements-of-reasons.csv",
        dsa_views.statements_of_reasons_csv,
        name="statements_of_reasons_csv",
    ),
]
