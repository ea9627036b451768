"""What an OpenAI-compatible server says about itself, for the manifest's ``engines`` section.

Servers describe themselves in different places, so each server is asked at the start of
a session at every place we know of, concurrently and with a short timeout; what does
not answer is left out. Only the named fields of each answer are kept (an engine's full
argument list can hold secrets such as its API key), and only plain values.

- ``GET {base}/models`` (every server): the entry of the served model — ``id``, and where
  given ``root``, ``parent``, ``owned_by``, ``max_model_len`` (vLLM).
- ``GET /version`` (vLLM): ``version``.
- ``GET /get_server_info`` (SGLang): version, model path, dtype, quantization, tensor /
  data / pipeline / expert parallel sizes, random seed, deterministic inference, device.
- ``GET /info`` (Text Generation Inference): model id and sha, dtype, device type, version.
- ``GET /props`` (llama.cpp): model path, build info, slots.
- ``GET /api/version`` (Ollama): ``version``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from surestep.models.routing import ServerSpec

if TYPE_CHECKING:
    import httpx2

MODEL_FIELDS = ("id", "root", "parent", "owned_by", "max_model_len")
PROBES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("version", "/version", ("version",)),
    (
        "server_info",
        "/get_server_info",
        (
            "version",
            "model_path",
            "served_model_name",
            "dtype",
            "quantization",
            "kv_cache_dtype",
            "tp_size",
            "dp_size",
            "pp_size",
            "ep_size",
            "random_seed",
            "enable_deterministic_inference",
            "device",
        ),
    ),
    ("info", "/info", ("model_id", "model_sha", "model_dtype", "model_device_type", "version", "sha")),
    ("props", "/props", ("model_path", "build_info", "total_slots")),
    ("api_version", "/api/version", ("version",)),
)
"""(name in the record, path from the server's origin, fields kept)."""
MAX_TEXT = 200
MAX_LISTED_MODELS = 20


def origin(url: str) -> str:
    """The server's root: the base URL without its ``/v1``."""
    return url[: -len("/v1")] if url.endswith("/v1") else url


def keep(answer: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named plain fields of a JSON object (long texts cut), or {} for anything else."""
    if not isinstance(answer, dict):
        return {}
    kept: dict[str, Any] = {}
    for name in fields:
        value = answer.get(name)
        if isinstance(value, str):
            kept[name] = value[:MAX_TEXT]
        elif isinstance(value, (bool, int, float)):
            kept[name] = value
    return kept


def served_model(answer: Any, model: str) -> dict[str, Any]:
    """From a ``/models`` answer: the served model's entry, or the ids served when it is not listed."""
    entries = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(entries, list):
        return {}
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == model:
            return keep(entry, MODEL_FIELDS)
    ids = [str(e.get("id"))[:MAX_TEXT] for e in entries if isinstance(e, dict) and "id" in e]
    return {"served": ids[:MAX_LISTED_MODELS], "model_listed": False} if ids else {}


async def _get_json(client: httpx2.AsyncClient, url: str, seconds: float) -> Any:
    """The JSON answer of a GET, or None when there is none (any error, status or non-JSON body)."""
    import httpx2

    try:
        response = await client.get(url, timeout=seconds)
        if response.status_code != 200:
            return None
        return response.json()
    except (httpx2.HTTPError, ValueError):
        return None


async def probe_server(
    client: httpx2.AsyncClient, spec: ServerSpec, model: str, seconds: float
) -> dict[str, Any] | None:
    """``{"server": label, "reported": {...}}`` for one server, or None when it reports nothing."""
    root = origin(spec.url)
    urls = [f"{spec.url}/models"] + [root + path for _, path, _ in PROBES]
    answers = await asyncio.gather(*(_get_json(client, url, seconds) for url in urls))
    reported: dict[str, Any] = {}
    models = served_model(answers[0], model)
    if models:
        reported["models"] = models
    for (name, _, fields), answer in zip(PROBES, answers[1:]):
        found = keep(answer, fields)
        if found:
            reported[name] = found
    return {"server": spec.label, "reported": reported} if reported else None
