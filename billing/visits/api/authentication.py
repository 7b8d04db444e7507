from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import Institution, InstitutionApiKey
from accounts.selectors import api_key_authenticate

KEYWORD = "Api-Key"


def key_in(header: str) -> str | None:
    """The key of an ``Authorization: Api-Key <key>`` header's value; ``None`` if malformed."""
    scheme, _sep, key = header.partition(" ")
    return key.strip() if scheme == KEYWORD and key.strip() else None


@dataclass(frozen=True)
class HisClient:
    """Who is calling: an institution's HIS, through one of its API keys."""

    institution: Institution
    api_key: InstitutionApiKey
    is_authenticated: bool = True


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``. Keys are created and revoked in the admin."""

    keyword = KEYWORD

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        key = key_in(header)
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Api-Key <key>'.")
            )
        api_key = api_key_authenticate(key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This API key is unknown or revoked."))
        return HisClient(institution=api_key.institution, api_key=api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: one of your institution's keys (admin: API keys).",
        }
