"""The learned ranker: LightGBM LambdaMART over features the pipeline already computes.

:mod:`.features` (the fixed, versioned feature list), :mod:`.model` (train, save, load, predict,
explain), :mod:`.stage` (the pipeline stage that re-orders the fused candidates), :mod:`.config`
(``[ranker]``), :mod:`.training` (candidates and features of judged queries, for ``shopmatch train ranker``).
"""
