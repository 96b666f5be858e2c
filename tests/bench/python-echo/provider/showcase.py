from dify_plugin import ToolProvider

class ShowcaseProvider(ToolProvider):
    def _validate_credentials(self, credentials):
        pass
