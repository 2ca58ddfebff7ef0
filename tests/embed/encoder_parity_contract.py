"""The parity contract: `specrec embed` equals the model called plainly, text by text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_dataset
from tiny_encoder_folders import parity_texts

from specrec.embed.embed import embed
from specrec.embed.encoders.resolve import load_encoder, resolve_encoder
from specrec.embed.pooling import pool
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError

MIN_COSINE = 0.99999
BATCH_SIZES = (1, 64)
SIDES = ("left", "right")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def pool_one_text(hidden: torch.Tensor, pooling: str) -> torch.Tensor:
    """The pooling formula on the token states `[L, d]` of one unpadded text."""
    return {"mean": hidden.mean(dim=0), "cls": hidden[0], "last_token": hidden[-1]}[pooling]


class EncoderParityContract:
    """`specrec embed` must give, for every text, cosine >= MIN_COSINE to the plain model (and to
    `SentenceTransformer.encode` for such a folder) on each padding side the family allows, at
    batch sizes 1 and 64; a side it cannot make right must be refused in one line.

    Subclass once per family (or alias, or backend) and set:

    - `build(root, texts, minilm_dir)`, a staticmethod: write the model folder under `root`
      and return it;
    - `pooling`: the family's pooling, passed as `--pooling` (the transformers backend);
    - `padding_sides`: sides whose vectors must equal the reference; `refused_sides`: the rest,
      which `specrec embed` must refuse with a one-line SpecrecError;
    - `sentence_transformers`: the folder is a sentence-transformers model, so its own pipeline
      (specrec's sentence-transformers backend) and `SentenceTransformer.encode` are checked too;
    - `pooled_token`: the token whose state the pooling takes (the CLS token, or the end token
      that the tokenizer appends for last-token pooling); None for mean pooling.
    """

    pooling: str
    padding_sides: tuple[str, ...] = SIDES
    refused_sides: tuple[str, ...] = ()
    sentence_transformers: bool = False
    pooled_token: str | None = None

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        routes = [("transformers", side) for side in self.padding_sides]
        references = ["plain"]
        if self.sentence_transformers:
            routes.append(("sentence-transformers", None))
            references.append("sentence-transformers")
        fields = metafunc.fixturenames
        if "route" in fields:
            metafunc.parametrize("route", routes, ids=[side or backend for backend, side in routes])
        if "reference" in fields:
            metafunc.parametrize("reference", references)
        if "batch_size" in fields:
            metafunc.parametrize("batch_size", BATCH_SIZES)
        if "padding_side" in fields:
            metafunc.parametrize("padding_side", self.padding_sides)

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def one_torch_thread(cls):
        """Tiny models spend their time waking threads; one thread runs them far faster."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)

    @pytest.fixture(scope="class")
    @classmethod
    def texts(cls) -> list[str]:
        return parity_texts()

    @pytest.fixture(scope="class")
    @classmethod
    def root(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp(cls.__name__)

    @pytest.fixture(scope="class")
    @classmethod
    def folder(cls, root: Path, texts: list[str], minilm_dir: Path) -> Path:
        return cls.build(root / "models", texts, minilm_dir)

    @pytest.fixture(scope="class")
    @classmethod
    def dataset(cls, root: Path, texts: list[str]) -> Path:
        return make_dataset(root / "dataset", texts)

    @pytest.fixture(scope="class")
    @classmethod
    def references(cls, folder: Path, texts: list[str]) -> dict[str, np.ndarray]:
        """The "plain" reference (AutoTokenizer output as is, one text at a time, into AutoModel,
        then the pooling formula) and, for such a folder, `SentenceTransformer.encode` of each
        text alone (batched, it pads, and on the left it moves BERT's positions)."""
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
        with torch.inference_mode():
            outputs = [model(**tokenizer(text, return_tensors="pt")) for text in texts]
        states = [output.last_hidden_state[0] for output in outputs]
        found = {"plain": torch.stack([pool_one_text(h, cls.pooling) for h in states]).numpy()}
        if cls.sentence_transformers:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(folder), device="cpu")
            found["sentence-transformers"] = np.stack([model.encode([t])[0] for t in texts])
        return found

    @pytest.fixture(scope="class")
    @classmethod
    def embedded(cls, root: Path, folder: Path, dataset: Path):
        """`run(route, batch_size)` -> (vectors of items 1..N, meta), each run once per class."""
        runs: dict[tuple, tuple[np.ndarray, object]] = {}

        def run(route: tuple[str, str | None], batch_size: int):
            backend, side = route
            if (route, batch_size) not in runs:
                out = root / f"{backend}-{side}-{batch_size}"
                options = {"pooling": cls.pooling, "padding_side": side} if side else {}
                meta = embed(
                    dataset=dataset, encoder="hf", out=out, model=str(folder),
                    batch_size=batch_size, device="cpu", **options,
                )  # fmt: skip
                runs[route, batch_size] = (open_embeddings(out).load()[1:], meta)
            return runs[route, batch_size]

        return run

    def test_vectors_equal_the_reference(
        self, embedded, references, texts, route, batch_size, reference
    ):
        vectors, meta = embedded(route, batch_size)
        backend, side = route
        assert meta.config["backend"] == backend
        assert meta.config["padding_side"] == (side or "right")  # sentence-transformers: right
        if side is not None:
            assert meta.config["pooling"] == self.pooling
        agreement = cosines(vectors, references[reference])
        worst = int(agreement.argmin())
        assert agreement[worst] >= MIN_COSINE, (
            f"cosine {agreement[worst]:.7f} to the {reference} reference for text {worst} "
            f"({len(texts[worst].split())} words)"
        )

    def test_every_padding_side_is_matched_or_refused(self, folder, dataset, root):
        assert sorted(self.padding_sides + self.refused_sides) == sorted(SIDES)
        for side in self.refused_sides:
            with pytest.raises(SpecrecError, match="--padding-side") as refusal:
                embed(
                    dataset=dataset, encoder="hf", out=root / f"refused-{side}",
                    model=str(folder), pooling=self.pooling, padding_side=side, device="cpu",
                )  # fmt: skip
            assert "\n" not in str(refusal.value)

    def test_pools_the_tokens_of_each_text_alone(self, folder, texts, padding_side):
        """Each padded row holds exactly the text's own tokens, and the pooled one is declared."""
        from transformers import AutoConfig, AutoTokenizer

        settings = resolve_encoder(
            "hf", model=str(folder), pooling=self.pooling, padding_side=padding_side
        )
        encoder = load_encoder(settings, device="cpu", compute_dtype="float32")
        batch = encoder.tokenizer(texts, padding=True, return_tensors="pt")
        ids, mask = batch["input_ids"], batch["attention_mask"]
        alone = AutoTokenizer.from_pretrained(folder)
        for row, text in enumerate(texts):
            assert ids[row][mask[row].bool()].tolist() == alone(text)["input_ids"]
        if self.pooled_token is None:
            assert self.pooling == "mean"
            return
        token_id = alone.convert_tokens_to_ids(self.pooled_token)
        pooled = pool(ids.unsqueeze(-1).double(), mask, self.pooling).squeeze(-1).long()
        assert pooled.tolist() == [token_id] * len(texts)
        if self.pooling == "last_token":  # the end-of-text token, appended to every text
            assert token_id == AutoConfig.from_pretrained(folder).eos_token_id
            assert {alone(text)["input_ids"][-1] for text in texts} == {token_id}
