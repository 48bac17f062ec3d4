"""The embedded server process: llama-cpp-python's OpenAI-compatible server, grammar-first.

Run as `python -m corpus.llm.serve --model FILE --port N` (corpus.llm.embedded does).

Why a sampler of our own: llama-cpp-python puts the grammar into the sampler chain
before greedy/top-k, so every generated token checks all 49,152 SmolLM2 tokens against
the JSON grammar. That check cost about as much per token as the model's forward pass
(decode rate 0.55-0.65x unconstrained, bench/results/corpus.json). llama.cpp's own common sampler
samples first and asks the grammar only about the chosen token; the whole vocabulary
is filtered only when that token is refused. `GrammarFirstSampler` does the same.

At temperature 0 both orders return the same token: the best token, if the grammar
allows it, is the best allowed token. With sampling the distributions differ slightly
(a token the grammar allows can be drawn in the first pass or in the redraw), as they
do in llama.cpp itself.

And a reply depends on its request alone, not on the request the server answered
before it (HistoryFreeLlama).
"""

import argparse
import ctypes
import math
from functools import cached_property

import llama_cpp
import numpy as np
import uvicorn
from llama_cpp import Llama, LlamaGrammar
from llama_cpp._internals import LlamaSampler
from llama_cpp.server import app as server_app
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.settings import ModelSettings, ServerSettings

from corpus.llm.embedded import SAMPLER

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


class HistoryFreeLlama(Llama):
    """llama_cpp.Llama whose reply depends on its request alone.

    llama-cpp-python keeps the last request's tokens in the KV cache and evaluates only
    where the next prompt differs. Logits computed after a prefix evaluated in another
    piece differ in the last bits, enough to flip near-ties: at temperature 0, 6 of 24
    HMDB-51 replies changed with the request sent before them (tests/corpus/
    test_grammar_first.py), and builds send requests in an order set by thread timing.
    So a prompt is always evaluated in the same two pieces, whatever came before: the
    turns before its last one (the system prompt every request shares, kept in the cache
    while it is the same) evaluated alone from position 0, then its last turn in one
    batch.
    """

    _shared: tuple[int, ...] = ()  # the first piece now in the KV cache

    @cached_property
    def _turn_start(self) -> int | None:
        marker = self.tokenize(b"<|im_start|>", add_bos=False, special=True)
        return marker[0] if len(marker) == 1 else None

    def _last_turn(self, tokens: list[int]) -> int:
        """Where the prompt's last turn starts (the chat template's next-to-last turn
        marker: the last one opens the reply); 0 when the prompt has no such marker."""
        marks = [i for i, t in enumerate(tokens) if t == self._turn_start]
        return marks[-2] if len(marks) >= 2 else 0

    def generate(self, tokens, *args, **kwargs):
        tokens = list(tokens)
        shared = tuple(tokens[: self._last_turn(tokens)])
        if shared and shared == self._shared and self.n_tokens >= len(shared):
            self.n_tokens = len(shared)  # Llama.generate evaluates the rest in one piece
        else:
            self.reset()
            self._shared = ()
            if shared:
                self.eval(shared)
                self._shared = shared
        return super().generate(tokens, *args, **kwargs)


class GrammarFirstLlama(HistoryFreeLlama):
    """History-free prompts, and grammar-constrained generation sampled grammar-first."""

    def _init_sampler(self, *, grammar: LlamaGrammar | None = None, **params):
        chain = super()._init_sampler(grammar=None, **params)
        return chain if grammar is None else GrammarFirstSampler(chain, self, grammar)


def _proxy(llama_class: type[Llama]) -> type[LlamaProxy]:
    class Proxy(LlamaProxy):
        @staticmethod
        def load_llama_from_model_settings(settings: ModelSettings) -> Llama:
            # The stock loader knows every setting (chat format from the GGUF, caches...);
            # only generation differs, and the subclasses need nothing set at construction.
            llama = LlamaProxy.load_llama_from_model_settings(settings)
            llama.__class__ = llama_class
            return llama

    return Proxy


# How a grammar-constrained reply is sampled; "stock" is llama-cpp-python's own order,
# kept to measure against (bench.corpus_bench --only decoding). Both answer a request
# independently of the one before.
SAMPLERS: dict[str, type[Llama]] = {
    "grammar_first": GrammarFirstLlama,
    "stock": HistoryFreeLlama,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m corpus.llm.serve", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n_ctx", type=int, default=2048)
    ap.add_argument("--n_threads", type=int, default=2)
    ap.add_argument("--sampler", choices=sorted(SAMPLERS), default=SAMPLER)
    args = ap.parse_args(argv)
    print(f"subtext: grammar-constrained replies are sampled {args.sampler}; a reply does "
          "not depend on the request before it", flush=True)
    # create_app builds its model proxy from this module attribute; it has no other seam.
    server_app.LlamaProxy = _proxy(SAMPLERS[args.sampler])
    app = server_app.create_app(
        server_settings=ServerSettings(host=args.host, port=args.port),
        model_settings=[ModelSettings(model=args.model, n_ctx=args.n_ctx,
                                      n_threads=args.n_threads)],
    )
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
