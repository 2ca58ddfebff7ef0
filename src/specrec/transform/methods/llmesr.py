"""LLM-ESR adapter inputs: the frozen LLM table, its PCA-k ID init and each user's similar users."""

from __future__ import annotations

import numpy as np

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.transform.base import (
    SOLVER,
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    integer,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, project

NEIGHBOURS = 100
"""Similar users stored per user (LLM-ESR's `sim_user_100.pkl`); training uses the first few."""
SIMILARITY_BYTES = 1 << 25
"""Bytes of one block of the user × user cosine matrix (32 MiB): it is never formed whole."""


@TRANSFORMS.register("llmesr")
class LLMESR(Transform):
    """LLM-ESR (NeurIPS'24): `/basis/features` = E as given (rows 1..N, row 0 zeros), frozen;
    `/basis/id_init` = Ē P_k (sklearn's `PCA(n_components=k)`: centred, not whitened, its sign
    rule; k = `--dim`), which initialises the trainable ID view.

    Per user u of `--dataset` (training events T_u only, chronological):
      p_u = (1/|T_u|) Σ_{i∈T_u} e_i,   sim(u, v) = ⟨p_u, p_v⟩ / (‖p_u‖ ‖p_v‖)
      `/basis/user_neighbours [U+1, m]` = the m users v ≠ u of largest sim(u, v) (ties: lower
      id first), v among the users with ≥ 2 training events (so v has a history before its
      last training target); m = min(`neighbours`, #candidates − 1); 0 = none (row 0, users
      without training events).
      `/basis/user_offsets [U+2]`, `/basis/user_items`, `/basis/user_times`: T_u in CSR form,
      the histories the self-distillation runs the model on.
    LLM-ESR embeds a text of each user's history with the LLM instead (specrec has no user texts).
    """

    name = "llmesr"
    options = (
        Option("neighbours", NEIGHBOURS, integer(1), "similar users stored per user"),
        SOLVER,
    )

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        if source.dataset is None:
            raise SpecrecError(
                "llmesr finds each user's similar users from the training histories: "
                "pass --dataset (the dataset you will train on)"
            )
        emb, k = source.embeddings, source.dim
        eig = decompose(emb, center=True, top=k, solver=params["solver"], seed=source.seed)
        eig.require_rank(k)
        id_init = project(emb, eig.vectors[:, :k], mean=eig.mean, dtype=np.float32)
        features = emb.load(np.float32)
        from specrec.data.dataset import SPLIT_CODE, load_dataset  # polars: only here

        data = load_dataset(source.dataset)
        train = data.split == SPLIT_CODE["train"]
        users = data.user_of(np.flatnonzero(train))
        offsets = np.zeros(data.n_users + 2, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=data.n_users + 1), out=offsets[1:])
        neighbours = similar_users(emb, data.items[train], offsets, params["neighbours"])
        if neighbours.shape[1] < params["neighbours"]:
            source.log(f"llmesr: {neighbours.shape[1]} similar users per user (fewer users "
                       f"than neighbours {params['neighbours']})")
        explained = float(eig.values[:k].sum() / eig.trace) if eig.trace > 0 else 0.0
        return TransformResult(
            fusion="adapter",
            basis={
                "features": features,
                "id_init": id_init,
                "user_neighbours": neighbours,
                "user_offsets": offsets,
                "user_items": data.items[train].astype(np.int32),
                "user_times": data.timestamps[train].astype(np.int64),
            },
            diagnostics=describe(eig, id_init),
            stats={
                "rank": eig.rank,
                "solver": eig.solver,
                "explained_variance": explained,
                "features_dim": int(features.shape[1]),
                "neighbours_stored": int(neighbours.shape[1]),
                "users": int(data.n_users),
            },
        )


def user_profiles(emb: EmbeddingsFile, items: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """p_u = mean of e_i over user u's events `items[offsets[u]:offsets[u+1]]` (0 when none)."""
    from scipy import sparse

    counts = np.diff(offsets)
    rows = np.repeat(np.arange(len(counts)), counts)
    weights = 1.0 / np.maximum(counts, 1)[rows]
    shape = (len(counts), emb.n_items + 1)
    pooling = sparse.csr_matrix((weights, (rows, items.astype(np.int64))), shape=shape)
    return np.asarray(pooling @ emb.load(np.float64))


def similar_users(emb: EmbeddingsFile, items: np.ndarray, offsets: np.ndarray,
                  wanted: int) -> np.ndarray:
    """`[U+1, m]` int64: each user's top-m cosine neighbours among users with ≥ 2 events."""
    counts = np.diff(offsets)  # users 0..U
    profiles = user_profiles(emb, items, offsets)
    norms = np.linalg.norm(profiles, axis=1)
    unit = profiles / np.where(norms > 0, norms, 1.0)[:, None]
    candidates = np.flatnonzero(counts >= 2)
    if len(candidates) < 2:
        raise SpecrecError(
            f"llmesr needs at least 2 users with 2 or more training events, the dataset has "
            f"{len(candidates)}; use a larger dataset"
        )
    m = min(wanted, len(candidates) - 1)
    out = np.zeros((len(counts), m), dtype=np.int64)
    queries = np.flatnonzero(counts >= 1)
    pool = unit[candidates]
    step = max(1, SIMILARITY_BYTES // (8 * len(candidates)))
    for begin in range(0, len(queries), step):
        block = queries[begin : begin + step]
        sims = unit[block] @ pool.T
        sims[block[:, None] == candidates[None, :]] = -np.inf  # never one's own neighbour
        kth = np.partition(sims, len(candidates) - m, axis=1)[:, len(candidates) - m]
        for row, user in enumerate(block):
            top = np.flatnonzero(sims[row] >= kth[row])
            order = top[np.lexsort((top, -sims[row, top]))][:m]
            out[user] = candidates[order]
    return out
