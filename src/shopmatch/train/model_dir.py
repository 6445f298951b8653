"""Where the transformer sits in a model directory, and how to copy the rest of a sentence-transformers one.

Steps that rewrite a model's vocabulary (:mod:`shopmatch.train.vocab`) accept a Hugging Face
directory (``config.json``) or a sentence-transformers one (``modules.json``); these helpers find
the transformer inside and carry the other modules (pooling, normalize, ...) over to the output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from shopmatch.errors import ConfigError


def transformer_dir(model_dir: Path) -> tuple[Path, list[dict[str, Any]] | None]:
    """The Hugging Face model folder inside ``model_dir`` and the sentence-transformers modules (if any)."""
    modules_file = model_dir / "modules.json"
    if modules_file.is_file():
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        for module in modules:
            folder = model_dir / module.get("path", "")
            if module.get("type", "").rsplit(".", 1)[-1] == "Transformer" and (folder / "config.json").is_file():
                return folder, modules
        raise ConfigError(f"{modules_file}: no Transformer module with a config.json")
    if (model_dir / "config.json").is_file():
        return model_dir, None
    raise ConfigError(f"{model_dir}: not a model directory (no config.json or modules.json)")


def load_model(hf_dir: Path) -> Any:
    """The model in ``hf_dir`` with its own architecture, so a task head (e.g. a classifier) is kept."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(hf_dir, local_files_only=True)
    architectures = getattr(config, "architectures", None) or []
    model_class = getattr(transformers, architectures[0], None) if architectures else None
    if model_class is None:
        model_class = transformers.AutoModel
    return model_class.from_pretrained(hf_dir, local_files_only=True)


def write_sentence_transformers_files(
    model_dir: Path, hf_dir: Path, modules: list[dict[str, Any]], target: Path
) -> None:
    """Copy the other sentence-transformers modules; the transformer now sits at the top level of ``target``."""
    out_modules = []
    for module in modules:
        folder = model_dir / module.get("path", "")
        if folder == hf_dir:
            out_modules.append({**module, "path": ""})
            continue
        if not module.get("path"):
            raise ConfigError(f"{model_dir}/modules.json: module {module.get('name')!r} shares the top level")
        if folder.is_dir():  # a module without files (Normalize) may have no folder at all
            shutil.copytree(folder, target / module["path"])
        out_modules.append(module)
    (target / "modules.json").write_text(json.dumps(out_modules, indent=2), encoding="utf-8")
    for name in ("config_sentence_transformers.json",):
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, target / name)
    if (hf_dir / "sentence_bert_config.json").is_file():
        shutil.copy2(hf_dir / "sentence_bert_config.json", target / "sentence_bert_config.json")


def save_model(target: Path, model: Any, tokenizer: Any, model_dir: Path, hf_dir: Path, modules) -> None:
    """Save ``model`` and ``tokenizer`` at the top level of ``target``, with ``model_dir``'s other
    sentence-transformers modules (``modules`` from :func:`transformer_dir`; ``None``: a plain
    Hugging Face directory, nothing else to copy)."""
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    if modules is not None:
        write_sentence_transformers_files(model_dir, hf_dir, modules, target)
