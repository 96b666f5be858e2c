"""Dify's tool-provider errors."""


class ToolProviderCredentialValidationError(Exception):
    """The credentials are not valid; the text is shown to the user."""


class ToolProviderOAuthError(Exception):
    """An OAuth step failed; reported like invalid credentials."""
