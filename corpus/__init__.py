"""subtext.corpus — the text-knowledge library.

Class lists, the LLM layer, sub-text generation and validation, TPP scoring, text
encoders and the corpus bundle store. The Prefect flows in `pipelines/` orchestrate
these functions; the learner in `model/` reads only the bundle they write.
"""

__version__ = "0.1.0"
