"""Dify's ``CredentialType`` and ``LogMetadata``."""

from enum import Enum


class CredentialType(str, Enum):
    """How the credentials of a call were obtained."""

    API_KEY = "api-key"
    OAUTH = "oauth2"
    UNAUTHORIZED = "unauthorized"


class LogMetadata(str, Enum):
    """Keys of a log message's metadata."""

    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"
    ELAPSED_TIME = "elapsed_time"
    TOTAL_PRICE = "total_price"
    TOTAL_TOKENS = "total_tokens"
    PROVIDER = "provider"
    CURRENCY = "currency"
