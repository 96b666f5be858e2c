"""Dify's ``plugin_logger_handler``: log records of a plugin go to stderr, which the host logs."""

import logging
import sys

plugin_logger_handler = logging.StreamHandler(sys.stderr)
plugin_logger_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
