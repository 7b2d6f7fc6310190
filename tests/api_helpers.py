"""Helpers for API tests: tokens and request payloads."""

import base64

from accounts.roles import Role
from accounts.services import api_token_create
from tests.conftest import png_bytes


def token_for(make_user, username="platform", role=Role.PLATFORM, **kwargs) -> str:
    user = make_user(username, role, queues=[])
    return api_token_create(user=user, name="test", **kwargs)[1]


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def report_payload(**overrides) -> dict:
    payload = {
        "content": {
            "id": "post-1",
            "url": "https://social.example/p/1",
            "type": "image",
            "owner_id": "u-9",
        },
        "category": "csam",
        "description": "reported by a user",
        "involves_child": True,
        "media": [{"filename": "a.png", "data_base64": b64(png_bytes())}],
        "reporter": {"kind": "platform_user", "account_id": "reporter-1", "ip": "198.51.100.7"},
    }
    payload.update(overrides)
    return payload


def flag_payload(**overrides) -> dict:
    payload = {
        "content": {
            "id": "post-2",
            "url": "https://social.example/p/2",
            "type": "image",
            "owner_id": "u-9",
        },
        "category": "csam",
        "source": "classifier-x",
        "external_id": "ext-1",
        "score": 0.97,
        "model_version": "2026.11",
    }
    payload.update(overrides)
    return payload
