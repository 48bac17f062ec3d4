"""The embedded server process: llama-cpp-python's OpenAI-compatible server, grammar-first.

Run as `python -m corpus.llm.serve --model FILE --port N` (corpus.llm.embedded does).

Why a sampler of our own: llama-cpp-python puts the grammar into the sampler chain
before greedy/top-k, so every generated token checks all 49,152 SmolLM2 tokens against
the JSON grammar. That check cost more per token than the model's forward pass (decode
rate 0.64x unconstrained, bench/results/corpus.json). llama.cpp's own common sampler
samples first and asks the grammar only about the chosen token; the whole vocabulary
is filtered only when that token is refused. `GrammarFirstSampler` does the same.

At temperature 0 both orders return the same token: the best token, if the grammar
allows it, is the best allowed token. With sampling the distributions differ slightly
(a token the grammar allows can be drawn in the first pass or in the redraw), as they
do in llama.cpp itself.
"""

import argparse
import ctypes
import math

import llama_cpp
import numpy as np
import uvicorn
from llama_cpp import Llama, LlamaGrammar
from llama_cpp._internals import LlamaSampler
from llama_cpp.server import app as server_app
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.settings import ModelSettings, ServerSettings

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class GrammarFirstSampler:
    """The sampler chain without the grammar, then the grammar on the chosen token only.

    Quacks like llama_cpp's LlamaSampler where Llama.sample uses it (`sample(ctx, idx)`).
    """

    def __init__(self, chain: LlamaSampler, llama: Llama, grammar: LlamaGrammar):
        self.chain = chain
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar made from the schema")
        self.n_vocab = llama._n_vocab
        self.redraws = 0  # tokens the grammar refused, so the whole vocabulary was filtered
        self._all = (llama_cpp.llama_token_data * self.n_vocab)()
        self._all_view = np.ctypeslib.as_array(self._all).view(_TOKEN_DATA)
        self._all_ids = np.arange(self.n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()
        self._candidates = llama_cpp.llama_token_data_array()

    def _point(self, data: ctypes.Array, size: int) -> ctypes.Array:
        self._candidates.data = data
        self._candidates.size = size
        self._candidates.selected = -1
        self._candidates.sorted = False
        return ctypes.byref(self._candidates)

    def _all_tokens(self, ctx, idx: int):
        # Samplers sort and cut the array in place, so it is refilled for every pass.
        logits = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        self._all_view["id"] = self._all_ids
        self._all_view["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        return self._point(self._all, self.n_vocab)

    def _chosen(self) -> int:
        return self._candidates.data[self._candidates.selected].id

    def _grammar_allows(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        llama_cpp.llama_sampler_apply(self.grammar, self._point(self._one, 1))
        return not math.isinf(self._one[0].logit)

    def sample(self, ctx, idx: int = -1) -> int:
        llama_cpp.llama_sampler_apply(self.chain.sampler, self._all_tokens(ctx, idx))
        token = self._chosen()
        if not self._grammar_allows(token):
            self.redraws += 1
            candidates = self._all_tokens(ctx, idx)
            llama_cpp.llama_sampler_apply(self.grammar, candidates)
            llama_cpp.llama_sampler_apply(self.chain.sampler, candidates)
            token = self._chosen()
        llama_cpp.llama_sampler_accept(self.grammar, token)
        self.chain.accept(token)
        return token

    def __del__(self) -> None:
        if getattr(self, "grammar", None):
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None


class GrammarFirstLlama(Llama):
    """llama_cpp.Llama whose grammar-constrained generation samples grammar-first."""

    def _init_sampler(self, *, grammar: LlamaGrammar | None = None, **params):
        chain = super()._init_sampler(grammar=None, **params)
        return chain if grammar is None else GrammarFirstSampler(chain, self, grammar)


class GrammarFirstProxy(LlamaProxy):
    @staticmethod
    def load_llama_from_model_settings(settings: ModelSettings) -> Llama:
        # The stock loader knows every setting (chat format from the GGUF, caches...);
        # only the sampler differs, and the subclass adds no state.
        llama = LlamaProxy.load_llama_from_model_settings(settings)
        llama.__class__ = GrammarFirstLlama
        return llama


# How a grammar-constrained reply is sampled; "stock" is llama-cpp-python's own order,
# kept to measure against (bench.corpus_bench --only decoding).
SAMPLERS: dict[str, type[LlamaProxy]] = {
    "grammar_first": GrammarFirstProxy,
    "stock": LlamaProxy,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m corpus.llm.serve", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n_ctx", type=int, default=2048)
    ap.add_argument("--n_threads", type=int, default=2)
    ap.add_argument("--sampler", choices=sorted(SAMPLERS), default="grammar_first")
    args = ap.parse_args(argv)
    print(f"subtext: grammar-constrained replies are sampled {args.sampler}", flush=True)
    # create_app builds its model proxy from this module attribute; it has no other seam.
    server_app.LlamaProxy = SAMPLERS[args.sampler]
    app = server_app.create_app(
        server_settings=ServerSettings(host=args.host, port=args.port),
        model_settings=[ModelSettings(model=args.model, n_ctx=args.n_ctx,
                                      n_threads=args.n_threads)],
    )
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
