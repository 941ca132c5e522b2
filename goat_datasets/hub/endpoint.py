"""Point huggingface_hub and datasets at a Hub endpoint, also after they were imported.

Both libraries read ``HF_ENDPOINT`` once, at import time: huggingface_hub into ``constants.ENDPOINT`` (plus
``HUGGINGFACE_CO_URL_TEMPLATE``, ``HF_URL_HOSTS`` and the module-level ``hf_api.api`` client) and datasets into
``datasets.config.HF_ENDPOINT`` / ``HUB_DATASETS_URL``. Likewise ``HF_HUB_DISABLE_XET`` becomes
``constants.HF_HUB_DISABLE_XET``, and without it uploads take the Xet path, which has no LFS fallback.

Recipe:
- a new process (CLI, subprocess): set ``HF_ENDPOINT`` and ``HF_HUB_DISABLE_XET=1`` in its environment; done.
- this process, libraries already imported (tests, notebooks): ``with use_hub_endpoint(url): ...`` patches the
  values above and restores them on exit. Passing ``endpoint=`` to ``HfApi`` is still the most explicit choice.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator
from urllib.parse import urlsplit

_MISSING = object()


def client_settings_for(endpoint: str | None) -> contextlib.AbstractContextManager:
    """What publishing to ``endpoint`` needs: a Hub on this machine (``goat hub serve``) has no Xet storage, so the
    clients are pointed at it with Xet off (`use_hub_endpoint`); any other endpoint keeps the clients' settings."""
    from goat_datasets.servers import is_loopback

    if endpoint and is_loopback(urlsplit(endpoint).hostname or ""):
        return use_hub_endpoint(endpoint)
    return contextlib.nullcontext()


@contextlib.contextmanager
def use_hub_endpoint(endpoint: str) -> Iterator[str]:
    import datasets.config as ds_config
    import huggingface_hub.constants as hf_constants
    import huggingface_hub.hf_api as hf_api

    endpoint = endpoint.rstrip("/")
    host = urlsplit(endpoint).hostname
    if not host:
        raise ValueError(f"not an endpoint URL: {endpoint!r} (expected http://127.0.0.1:PORT)")
    patches: list[tuple[Any, str, Any]] = [
        (hf_constants, "ENDPOINT", endpoint),
        (hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"),
        (hf_constants, "HF_URL_HOSTS", frozenset(hf_constants.HF_URL_HOSTS | {host.lower()})),
        (hf_constants, "HF_HUB_DISABLE_XET", True),
        (hf_api.api, "endpoint", endpoint),
        (ds_config, "HF_ENDPOINT", endpoint),
        (ds_config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"),
    ]
    env = {"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1"}
    saved = [(obj, name, getattr(obj, name, _MISSING)) for obj, name, _ in patches]
    saved_env = {k: os.environ.get(k) for k in env}
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        os.environ.update(env)
        yield endpoint
    finally:
        for obj, name, value in saved:
            if value is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, value)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
