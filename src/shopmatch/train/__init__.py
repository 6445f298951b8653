"""Training matching models on a shop's own data: one harness, recipes per model family.

- :mod:`shopmatch.train.recipes`: what ``shopmatch train …`` runs — a validated config per family
  (re-ranker, pair classifier, bi-encoder, classic baseline), readable from a TOML file, and the
  function that reads the data, splits it, mines negatives, distils and trains;
- :mod:`shopmatch.train.harness` (sentence-transformers trainers) and :mod:`shopmatch.train.loop`
  (the classic baselines' from-scratch loop): early stopping (:mod:`~shopmatch.train.early_stopping`),
  checkpoints and resume (:mod:`~shopmatch.train.checkpoints`), the summary
  (:mod:`~shopmatch.train.summary`), the device (:mod:`~shopmatch.train.device`) and data
  parallelism (:mod:`~shopmatch.train.distributed`), the same for every family;
- the model families: :mod:`~shopmatch.train.cross_encoder` (+ :mod:`~shopmatch.train.cross_encoder_model`),
  :mod:`~shopmatch.train.bi_encoder`, :mod:`shopmatch.baselines`;
- their data: :mod:`~shopmatch.train.inputs` (the one reader of each input), :mod:`~shopmatch.train.splits`
  (the one train/dev split), :mod:`~shopmatch.train.data` (judgments → labelled pairs),
  :mod:`~shopmatch.train.mining` (negatives from the shop's search), :mod:`~shopmatch.train.distill`,
  :mod:`~shopmatch.train.synthetic`, :mod:`~shopmatch.train.augment`, :mod:`~shopmatch.train.vocab`.

Nothing is imported here, so ``import shopmatch.train.X`` stays light.
"""
