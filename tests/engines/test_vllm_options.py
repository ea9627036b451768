"""The vllm backend's settings, without vLLM: what the engine is built with and what each draw sends.

These run in the main environment; the engine itself is tested in test_vllm_engine.py under
.venv-vllm (``make engine-test``).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from surestep.errors import SurestepError
from surestep.models import SamplingParams, parse_model_spec
from surestep.models.vllm_engine import (
    ENGINE_ARGS_ENV,
    EngineOptions,
    engine_kwargs,
    environment_engine_args,
    sampling_kwargs,
)

VLLM_SAMPLING_DEFAULTS = {
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
    "min_p": 0.0,
    "min_tokens": 0,
    "ignore_eos": False,
    "include_stop_str_in_output": False,
    "stop_token_ids": [],
}


def test_every_draw_sends_its_own_seed_and_every_sampling_field():
    params = SamplingParams(temperature=0.7, top_p=0.8, top_k=50, max_tokens=96, stop=("</s>", "\n\n"))
    sent = sampling_kwargs(params, 1234)
    assert sent["seed"] == 1234 and sent["n"] == 1
    assert (sent["temperature"], sent["top_p"], sent["top_k"], sent["max_tokens"]) == (0.7, 0.8, 50, 96)
    assert sent["stop"] == ["</s>", "\n\n"]
    for name, neutral in VLLM_SAMPLING_DEFAULTS.items():
        assert sent[name] == neutral, name  # set, so a model's generation config cannot fill it in
    assert sampling_kwargs(params, None)["seed"] is None


def test_no_top_k_is_sent_as_vllms_no_cut_and_greedy_drops_the_nucleus():
    assert sampling_kwargs(SamplingParams(top_k=None), 1)["top_k"] == 0
    greedy = sampling_kwargs(SamplingParams(temperature=0.0, top_p=0.8, top_k=50), 7)
    assert (greedy["temperature"], greedy["top_p"], greedy["top_k"]) == (0.0, 1.0, 0)


def test_engine_arguments_on_gpu_and_on_cpu():
    options = EngineOptions(tensor_parallel_size=2, gpu_memory_utilization=0.85, max_model_len=4096)
    gpu = engine_kwargs("Qwen/Qwen2.5-Math-7B-Instruct", options, on_cpu=False)
    assert gpu == {
        "model": "Qwen/Qwen2.5-Math-7B-Instruct",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.85,
        "dtype": "auto",
        "generation_config": "auto",
        "max_model_len": 4096,
    }
    cpu = engine_kwargs("m", EngineOptions(max_model_len=16384), on_cpu=True)
    assert cpu["enable_chunked_prefill"] is False and cpu["max_model_len"] == 16384
    assert "max_model_len" not in engine_kwargs("m", EngineOptions(), on_cpu=False)


def test_extra_engine_arguments_come_last_and_win():
    options = EngineOptions(extra=(("enforce_eager", True), ("enable_chunked_prefill", True)))
    kwargs = engine_kwargs("m", options, on_cpu=True)
    assert kwargs["enforce_eager"] is True and kwargs["enable_chunked_prefill"] is True


def test_engine_arguments_from_the_environment():
    assert environment_engine_args({}) == {} and environment_engine_args({ENGINE_ARGS_ENV: " "}) == {}
    given = {ENGINE_ARGS_ENV: '{"enforce_eager": true, "max_num_seqs": 8}'}
    assert environment_engine_args(given) == {"enforce_eager": True, "max_num_seqs": 8}
    with pytest.raises(SurestepError, match="not JSON"):
        environment_engine_args({ENGINE_ARGS_ENV: "enforce_eager=1"})
    with pytest.raises(SurestepError, match="JSON object"):
        environment_engine_args({ENGINE_ARGS_ENV: "[1]"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tensor_parallel_size", 0),
        ("gpu_memory_utilization", 0.0),
        ("gpu_memory_utilization", 1.5),
        ("max_model_len", 0),
        ("dtype", "int8"),
    ],
)
def test_engine_options_refuse_impossible_values(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(EngineOptions(), **{field: value})


def test_the_model_spec_needs_a_model():
    assert parse_model_spec("vllm:Qwen/Qwen2.5-7B-Instruct").model == "Qwen/Qwen2.5-7B-Instruct"
    with pytest.raises(SurestepError, match="vllm:MODEL"):
        parse_model_spec("vllm:")


def test_importing_the_backend_does_not_import_vllm():
    probe = "import sys, surestep.models.vllm_engine; print(sorted(m for m in sys.modules if m.split('.')[0] == 'vllm'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
