"""Routing candidates from clusters of *similar* routings, not only identical ones.

The neighbours' routings are sequences of (operation, work center) steps. Two routings are as
similar as their normalised edit similarity over those steps (rapidfuzz's Levenshtein on lists:
1 − edits / longer length). Clustering, over the distinct sequences (identical routings are one
point with the summed weight of their items, so identical sequences stay the special case of a
tight cluster):

1. every sequence's *centrality* is the weighted sum of its similarity to all sequences, the
   weight of a sequence being the support of its items (Σ similarity^power);
2. the most central sequence not yet taken opens a cluster with every remaining sequence at
   least ``radius`` similar to it; repeat until all are taken;
3. each cluster proposes its *medoid*: the member sequence most similar to the others
   (weighted), so the proposal is a routing that really exists;
4. clusters are ranked by support (Σ similarity^power of all their items), ties broken by the
   medoid's centrality.

Times come from all members: :func:`align` maps each medoid step to the member's step with the
same operation and work center (else the same operation) nearest in position.

The first proposal is the *routing nearest the vote* (:func:`nearest_the_vote`; ``vote_share``
0: the best cluster's medoid): the op codes that the neighbours holding at least ``vote_share``
of the support agree on, in their usual order, form the vote; the neighbour routing with the
greatest op-code edit similarity to the vote plus its centrality is proposed, with the members
of the cluster that holds it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

RADIUS = 0.75
VOTE_SHARE = 0.4  # share of the support an op code needs to join the vote (0: no vote)
OP_CODE_WEIGHT = 0.8  # in the vote's centrality: op-code similarity, the rest step similarity


@dataclass
class Cluster:
    medoid: int  # index into the distinct sequences
    medoid_member: int  # the input routing with the medoid sequence and the highest weight
    members: list[int]  # indices into the input routings
    support: float
    centrality: float
    spread: list[float] = field(default_factory=list)  # members' similarity to the medoid


@dataclass
class Distinct:
    """The distinct sequences of the routings, in order of first appearance."""

    points: list[tuple]
    point_of: list[int]  # per input routing, its distinct sequence
    first: list[int]  # per distinct sequence, its first input routing
    summed: list[float]  # per distinct sequence, its items' weights added in order from 0.0

    @classmethod
    def of(cls, sequences: Sequence[Sequence[Hashable]], weights: Sequence[float]) -> Distinct:
        distinct: dict[tuple, int] = {}
        point_of, first, summed = [], [], []
        for i, (seq, weight) in enumerate(zip(sequences, weights, strict=True)):
            point = distinct.setdefault(tuple(seq), len(distinct))
            if point == len(first):
                first.append(i)
                summed.append(0.0)
            point_of.append(point)
            summed[point] += float(weight)  # as np.add.at adds them
        return cls(list(distinct), point_of, first, summed)


def similarity_matrix(sequences: Sequence[Sequence[Hashable]]) -> np.ndarray:
    """Pairwise normalised edit similarity of step sequences (1.0 on the diagonal)."""
    return _step_similarity(sequences).astype(np.float32)  # as cdist's float32 output


def _step_similarity(sequences: Sequence[Sequence[Hashable]]) -> np.ndarray:
    """:func:`similarity_matrix` in float64."""
    keyed = [[hash(step) for step in seq] for seq in sequences]
    return _similarities(keyed, keyed)


def cluster_routings(
    sequences: Sequence[Sequence[Hashable]],
    weights: Sequence[float],
    radius: float = RADIUS,
) -> tuple[list[Cluster], list[tuple]]:
    """Clusters of the routings ``sequences`` (one per neighbour, ``weights`` their support).

    Returns the clusters, best first, and the distinct sequences their ``medoid`` indexes."""
    distinct = Distinct.of(sequences, weights)
    sim = similarity_matrix(distinct.points).astype(float)
    return _clusters(distinct, weights, sim, radius), distinct.points


def _clusters(
    distinct: Distinct, weights: Sequence[float], sim: np.ndarray, radius: float
) -> list[Cluster]:
    """:func:`cluster_routings` of the ``distinct`` sequences, ``sim`` their step similarity
    (as float32 values)."""
    point_of, summed = distinct.point_of, distinct.summed
    mass = np.array(summed)
    centrality = sim @ mass
    central = centrality.tolist()
    rows = sim.tolist()
    open_points = set(range(len(summed)))
    clusters = []
    for centre in np.argsort(-centrality, kind="stable").tolist():
        if centre not in open_points:
            continue
        taken = [p for p in sorted(open_points) if rows[centre][p] >= radius]
        open_points.difference_update(taken)
        if len(taken) == 1:  # a lone sequence (the usual cluster): no arrays to make
            medoid, support = taken[0], summed[taken[0]]
        else:
            inner = sim[np.ix_(taken, taken)] @ mass[taken]
            medoid, support = taken[int(np.argmax(inner))], float(mass[taken].sum())
        members = [i for i, p in enumerate(point_of) if p in taken]
        clusters.append(
            Cluster(
                medoid=medoid,
                medoid_member=max(
                    (i for i in members if point_of[i] == medoid), key=lambda i: weights[i]
                ),
                members=members,
                support=support,
                centrality=central[medoid],
                spread=[rows[medoid][point_of[i]] for i in members],
            )
        )
    clusters.sort(key=lambda c: (-c.support, -c.centrality))
    return clusters


def medoid_of(sequences: Sequence[Sequence[Hashable]]) -> int:
    """Index of the sequence most similar to the others (the first such on ties)."""
    if len(sequences) <= 2:
        return 0
    sim = similarity_matrix(sequences)
    return int(np.argmax(sim.sum(axis=1)))


def align(medoid: Sequence[tuple], member: Sequence[tuple]) -> list[int | None]:
    """For each medoid step (operation, work center), the index of the member's step to take
    times from: same operation and work center, else same operation, nearest in position (the
    first on ties) and each member step used once; None when the member has no such
    operation."""
    by_step: dict[tuple, list[int]] = {}
    by_op: dict = {}
    for k, step in enumerate(member):
        by_step.setdefault(step, []).append(k)
        by_op.setdefault(step[0], []).append(k)
    used: set[int] = set()
    out: list[int | None] = []
    for j, step in enumerate(medoid):
        best = None
        for found in (by_step.get(step), by_op.get(step[0])):
            free = [k for k in found or () if k not in used]
            if free:
                best = min(free, key=lambda k: abs(k - j))
                break
        if best is not None:
            used.add(best)
        out.append(best)
    return out


@dataclass
class Proposal:
    routing: int  # index of the input routing proposed (a medoid, or a variant)
    members: list[int]  # input routings whose times it uses
    support: float
    variant: bool = False  # a distinct routing inside a cluster, not its medoid
    centrality: float = 0.0  # a medoid's weighted similarity to all routings (ties)


def vote(sequences: Sequence[Sequence[Hashable]], weights: Sequence[float], share: float) -> list:
    """The op codes (first item of each step) held by routings with at least ``share`` of the
    total support, ordered by their support-weighted mean relative position (an op code's first
    place in a routing, 0 for the first step … 1 for the last) in the routings holding them."""
    places = [_first_places(seq) for seq in sequences]
    return _vote(places, list(range(len(sequences))), weights, share)


def _first_places(seq: Sequence[Hashable]) -> tuple[list[tuple], int]:
    """Each op code of a routing at its first place, and the place of the last step (≥ 1)."""
    first: dict = {}
    for k, step in enumerate(seq):
        first.setdefault(step[0], k)
    return list(first.items()), max(len(seq) - 1, 1)


def _vote(places: list, point_of: list[int], weights: Sequence[float], share: float) -> list:
    """:func:`vote` from each distinct routing's :func:`_first_places` (``point_of``: each
    routing's)."""
    support: dict = {}
    place: dict = {}
    for point, weight in zip(point_of, weights, strict=True):
        firsts, last = places[point]
        for op, k in firsts:
            support[op] = support.get(op, 0.0) + weight
            place[op] = place.get(op, 0.0) + weight * k / last
    total = sum(weights)
    if total <= 0:
        return []
    held = [op for op in support if support[op] / total >= share and support[op] > 0]
    return sorted(held, key=lambda op: place[op] / support[op])


def nearest_the_vote(
    sequences: Sequence[Sequence[Hashable]], weights: Sequence[float], share: float = VOTE_SHARE
) -> int:
    """Index of the routing with the greatest op-code edit similarity to the :func:`vote` plus
    its centrality (support-weighted similarity to every routing, 0.8 × op-code + 0.2 × step
    edit similarity, divided by the total support); the first on ties."""
    distinct = Distinct.of(sequences, weights)
    return _nearest_the_vote(distinct, weights, _step_similarity(distinct.points), share)


def _nearest_the_vote(
    distinct: Distinct, weights: Sequence[float], step_similarity: np.ndarray, share: float
) -> int:
    """:func:`nearest_the_vote` of the ``distinct`` sequences, ``step_similarity`` their step
    edit similarity (float64)."""
    places = [_first_places(seq) for seq in distinct.points]
    voted = [hash(op) for op in _vote(places, distinct.point_of, weights, share)]
    ops = [[hash(step[0]) for step in seq] for seq in distinct.points]
    to_ops = _similarities(ops, [*ops, voted])  # the last column: to the vote
    similar = OP_CODE_WEIGHT * to_ops[:, :-1] + (1 - OP_CODE_WEIGHT) * step_similarity
    support = np.array(distinct.summed)
    score = to_ops[:, -1] + similar @ support / (support.sum() or 1.0)
    # equal scores up to the sums' rounding: the first (the closest neighbours') wins
    return distinct.first[int(np.flatnonzero(score >= score.max() - 1e-9)[0])]


def _similarities(rows: list[list[int]], columns: list[list[int]]) -> np.ndarray:
    """Normalised edit similarity of every row to every column (float64)."""
    return cdist(rows, columns, scorer=Levenshtein.normalized_similarity, dtype=np.float64)


def propose(
    sequences: Sequence[Sequence[Hashable]],
    weights: Sequence[float],
    limit: int,
    radius: float = RADIUS,
    vote_share: float = VOTE_SHARE,
) -> list[Proposal]:
    """Up to ``limit`` proposals: first the routing :func:`nearest_the_vote` with the members
    and support of the cluster holding it (``vote_share`` 0: the best cluster's medoid), then,
    by support, each cluster's medoid (support: the whole cluster's) and each other distinct
    routing inside a cluster (support: its own items'), so a frequent close variant still gets
    a slot before a far, thin cluster; no sequence twice."""
    distinct = Distinct.of(sequences, weights)
    step_similarity = _step_similarity(distinct.points)
    sim = step_similarity.astype(np.float32).astype(float)  # the clusters' figures, as before
    clusters = _clusters(distinct, weights, sim, radius)
    out = [Proposal(c.medoid_member, c.members, c.support, False, c.centrality) for c in clusters]
    taken = {tuple(sequences[p.routing]) for p in out}
    variants: dict[tuple, list[int]] = {}
    for i, seq in enumerate(sequences):
        if tuple(seq) not in taken:
            variants.setdefault(tuple(seq), []).append(i)
    for idx in variants.values():
        best = max(idx, key=lambda i: weights[i])
        out.append(Proposal(best, idx, float(sum(weights[i] for i in idx)), variant=True))
    out.sort(key=lambda p: (-p.support, p.variant, -p.centrality, p.routing))
    if vote_share > 0 and len(out) > 1:
        chosen = _nearest_the_vote(distinct, weights, step_similarity, vote_share)
        out = _voted_first(out, clusters, sequences, weights, chosen)
    return out[:limit]


def _voted_first(
    ranked: list[Proposal],
    clusters: list[Cluster],
    sequences: Sequence[Sequence[Hashable]],
    weights: Sequence[float],
    chosen: int,
) -> list[Proposal]:
    """``ranked`` with the ``chosen`` routing (nearest the vote) first: its cluster's members
    and support, no other proposal of the same sequence."""
    holder = next(c for c in clusters if chosen in c.members)
    same = tuple(sequences[chosen])
    routing = max(  # the sequence's heaviest item, as for a medoid or a variant
        (i for i in holder.members if tuple(sequences[i]) == same), key=lambda i: weights[i]
    )
    variant = same != tuple(sequences[holder.medoid_member])
    centrality = 0.0 if variant else holder.centrality
    first = Proposal(routing, holder.members, holder.support, variant, centrality)
    return [first, *(p for p in ranked if tuple(sequences[p.routing]) != same)]
