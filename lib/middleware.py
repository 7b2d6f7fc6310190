"""Keep the API's error shape for the responses Django or django-ninja build themselves."""

from django.http import JsonResponse

API_PREFIX = "/api/"
CODES = {404: "not_found", 405: "method_not_allowed"}


class ApiErrorShapeMiddleware:
    """A 404 for an unknown API path and a 405 for an undeclared method come back as HTML from
    the framework; clients of the API always get `{"error", "detail"}` JSON instead."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code in CODES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            shaped = JsonResponse(
                {"error": CODES[response.status_code], "detail": _detail(request, response)},
                status=response.status_code,
            )
            if "Allow" in response:
                shaped["Allow"] = response["Allow"]
            return shaped
        return response


def _detail(request, response) -> str:
    if response.status_code == 405:
        return (
            f"{request.method} is not allowed here; use {response.get('Allow', 'another method')}."
        )
    return "No such API endpoint."
