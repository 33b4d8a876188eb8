"""The one place where failures become tool errors the model can act on.

Provider failures carry a trusted sentence (`ProviderError.for_model()`); our own lookups carry
theirs. Anything else is a bug: it is left to the SDK, which hides the text from the model and
logs the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from genmcp.jobs.downloads import DownloadError
from genmcp.jobs.engine import JobNotFoundError
from genmcp.jobs.models import JobIdError
from genmcp.providers.errors import ProviderError

logger = logging.getLogger(__name__)


class InputError(ValueError):
    """A tool argument our own checks rejected; the message says what to change."""


@contextmanager
def tool_errors() -> Generator[None]:
    """Wrap a tool body: expected failures become `ToolError` with an actionable sentence."""
    try:
        yield
    except ProviderError as err:
        logger.info("tool error from %s: %r", err.provider, err)
        raise ToolError(err.for_model()) from None
    except (JobNotFoundError, JobIdError) as err:
        raise ToolError(str(err)) from None
    except (InputError, DownloadError) as err:
        raise ToolError(str(err)) from None
