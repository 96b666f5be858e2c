"""The showcase provider: credential validation and a simulated OAuth flow (see examples/showcase)."""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dify_plugin import ToolProvider
from dify_plugin.entities.oauth import ToolOAuthCredentials
from dify_plugin.errors.tool import ToolProviderCredentialValidationError

API_KEY_RULE = "api_key must be `sk-` followed by one or more letters or digits, such as `sk-demo42`"
AUTHORIZE_URL = "https://auth.showcase.example/oauth/authorize"


def client_field(system_credentials: Mapping[str, Any], field: str) -> str:
    value = system_credentials.get(field)
    if not isinstance(value, str) or not value:
        raise ToolProviderCredentialValidationError(f"the OAuth client has no {field}")
    return value


class ShowcaseProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        key = credentials.get("api_key")
        if key is None or key == "":
            return
        if not isinstance(key, str) or not re.fullmatch(r"sk-[A-Za-z0-9]+", key):
            raise ToolProviderCredentialValidationError(API_KEY_RULE)

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        client_id = client_field(system_credentials, "client_id")
        query = urlencode(
            {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "read"}
        )
        return f"{AUTHORIZE_URL}?{query}"

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Any) -> ToolOAuthCredentials:
        client_field(system_credentials, "client_id")
        client_field(system_credentials, "client_secret")
        if "error" in request.args:
            raise ToolProviderCredentialValidationError(f"the authorisation was refused: {request.args['error']}")
        code = request.args.get("code")
        if not code:
            raise ToolProviderCredentialValidationError("the OAuth callback has no `code` query parameter")
        return ToolOAuthCredentials(
            credentials={"access_token": f"showcase-access-{code}", "refresh_token": f"showcase-refresh-{code}"},
            expires_at=-1,
            metadata={"issuer": "showcase"},
        )

    def _oauth_refresh_credentials(
        self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> ToolOAuthCredentials:
        client_field(system_credentials, "client_id")
        client_field(system_credentials, "client_secret")
        refresh_token = credentials.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ToolProviderCredentialValidationError("the credentials have no refresh_token; authorize again")
        return ToolOAuthCredentials(
            credentials={"access_token": f"refreshed-{refresh_token}", "refresh_token": refresh_token}, expires_at=-1
        )
