"""Training-free assessment of a bundle's text on frozen video features (docs/assess.md).

CLIP's own zero-shot protocol, no head and no training: each video's embedding is the mean
of its frame embeddings, each class's embedding is built from one text source, and the
video goes to the nearest class. Every source is scored next to the class names, the
prompt-template ensemble and controls that carry no class-specific content (random words,
random characters, sub-texts shuffled across classes), so a gain can be told from the
effect of any extra text at all.

- `videos`: video embeddings from the learner's feature cache or a plain `features.npz`.
- `variants`: class-embedding matrices for each variant and control (pure numpy).
- `correlation`: Pearson, Spearman and the TPP–accuracy analyses (pure numpy).
- `zeroshot`: the run (`python -m model.assess.zeroshot`, `subtext eval zeroshot`).
- `report`: Markdown, JSON and plots.
"""
