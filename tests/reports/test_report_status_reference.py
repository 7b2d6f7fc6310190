"""The public status page finds a report by its reference however it is typed: with or without
its hyphens or the VR, in any case, with spaces or the dashes a phone puts in."""

import pytest


@pytest.fixture
def reference(submit_report):
    return submit_report().reference  # VR-XXXX-XXXX


def look_up(client, typed: str):
    return client.get("/report/status/", {"reference": typed})


@pytest.mark.django_db
class TestReferenceAsTyped:
    @pytest.mark.parametrize(
        "typed",
        [
            "{ref}",
            "{plain}",
            "{lower}",
            "  {ref}  ",
            "vr {a} {b}",
            "VR\u2013{a}\u2013{b}",
            "{a}-{b}",
            "{a}{b}",
        ],
    )
    def test_it_finds_the_report(self, client, reference, typed):
        _, a, b = reference.split("-")
        text = typed.format(
            ref=reference, plain=reference.replace("-", ""), lower=reference.lower(), a=a, b=b
        )
        r = look_up(client, text)
        assert r.status_code == 200
        assert r.context["looked_up"] and r.context["status"] is not None, text
        assert r.context["form"].cleaned_data["reference"] == reference

    @pytest.mark.parametrize("typed", ["VR-ABC-1234", "VR-ABCD-12345", "hello", "VR-AB!D-1234"])
    def test_it_explains_a_reference_that_cannot_be_one(self, client, db, typed):
        r = look_up(client, typed)
        assert r.status_code == 200 and not r.context["looked_up"]
        assert "like VR-ABCD-2345" in r.context["form"].errors["reference"][0]

    def test_a_well_formed_unknown_reference_is_looked_up_and_not_found(self, client, db):
        r = look_up(client, "vr-zzzz-2222")
        assert r.context["looked_up"] and r.context["status"] is None
