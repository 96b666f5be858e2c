"""The OAuth callback request, with the parts of werkzeug's ``Request`` plugins read."""

from urllib.parse import parse_qs, urlsplit


class Request:
    """The HTTP request with which the OAuth provider redirected the user back to Dify."""

    def __init__(self, method: str, target: str, headers: list, body: bytes) -> None:
        self.method = method
        parts = urlsplit(target)
        self.path = parts.path
        self.full_path = target
        self.query_string = parts.query.encode()
        self.args = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = {name: value for name, value in headers}
        self.data = bytes(body)

    def get_data(self, as_text: bool = False):
        """The body, as bytes or text."""
        return self.data.decode("utf-8", "replace") if as_text else self.data
