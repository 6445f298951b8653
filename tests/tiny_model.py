"""A tiny random sentence-transformers model (2-layer BERT, 32 dimensions) for fast tests."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "usb c cable charger phone case leather sofa couch garden hose skillet cast iron "
    "kitchen towel mattress queen memory foam kindle waterproof red blue black white "
    "pack inch ft watt the a of for with and"
).split()


def make_tiny_model(directory: Path, *, seed: int = 0, dim: int = 32) -> Path:
    """Write a randomly initialized BERT + mean pooling + normalize model to ``directory``."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / "raw"
    raw.mkdir(exist_ok=True)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters, *("##" + c for c in letters)]
    (raw / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=dim,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * dim,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=64)
    pooling = models.Pooling(dim, pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    out = directory / "model"
    model.save(str(out))
    return out
