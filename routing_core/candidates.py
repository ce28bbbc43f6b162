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


def similarity_matrix(sequences: Sequence[Sequence[Hashable]]) -> np.ndarray:
    """Pairwise normalised edit similarity of step sequences (1.0 on the diagonal)."""
    keyed = [[hash(step) for step in seq] for seq in sequences]
    return cdist(keyed, keyed, scorer=Levenshtein.normalized_similarity, dtype=np.float32)


def cluster_routings(
    sequences: Sequence[Sequence[Hashable]],
    weights: Sequence[float],
    radius: float = RADIUS,
) -> tuple[list[Cluster], list[tuple]]:
    """Clusters of the routings ``sequences`` (one per neighbour, ``weights`` their support).

    Returns the clusters, best first, and the distinct sequences their ``medoid`` indexes."""
    distinct: dict[tuple, int] = {}
    point_of = []
    for seq in sequences:
        point_of.append(distinct.setdefault(tuple(seq), len(distinct)))
    points = list(distinct)
    # each point's weight: its items' weights added in order from 0.0 (as np.add.at adds them)
    summed = [0.0] * len(points)
    for p, w in zip(point_of, weights, strict=True):
        summed[p] += float(w)
    mass = np.array(summed)
    sim = similarity_matrix(points).astype(float)
    centrality = sim @ mass
    central = centrality.tolist()
    rows = sim.tolist()
    open_points = set(range(len(points)))
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
    return clusters, points


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
    support: dict = {}
    place: dict = {}
    for seq, weight in zip(sequences, weights, strict=True):
        last = max(len(seq) - 1, 1)
        first: dict = {}
        for k, step in enumerate(seq):
            first.setdefault(step[0], k)
        for op, k in first.items():
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
    distinct: dict[tuple, int] = {}
    first: list[int] = []  # per distinct routing, its first input index
    mass: list[float] = []
    for i, (seq, weight) in enumerate(zip(sequences, weights, strict=True)):
        point = distinct.setdefault(tuple(seq), len(distinct))
        if point == len(first):
            first.append(i)
            mass.append(0.0)
        mass[point] += weight
    ops = [[hash(step[0]) for step in seq] for seq in distinct]
    steps = [[hash(step) for step in seq] for seq in distinct]
    voted = [hash(op) for op in vote(sequences, weights, share)]
    to_ops = _similarities(ops, [*ops, voted])  # the last column: to the vote
    similar = OP_CODE_WEIGHT * to_ops[:, :-1] + (1 - OP_CODE_WEIGHT) * _similarities(steps, steps)
    support = np.array(mass)
    score = to_ops[:, -1] + similar @ support / (support.sum() or 1.0)
    return first[int(np.argmax(score))]


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
    clusters, _ = cluster_routings(sequences, weights, radius)
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
        out = _voted_first(out, clusters, sequences, weights, vote_share)
    return out[:limit]


def _voted_first(
    ranked: list[Proposal],
    clusters: list[Cluster],
    sequences: Sequence[Sequence[Hashable]],
    weights: Sequence[float],
    share: float,
) -> list[Proposal]:
    """``ranked`` with the routing nearest the vote first (its cluster's members and support,
    no other proposal of the same sequence)."""
    chosen = nearest_the_vote(sequences, weights, share)
    holder = next(c for c in clusters if chosen in c.members)
    same = tuple(sequences[chosen])
    routing = max(  # the sequence's heaviest item, as for a medoid or a variant
        (i for i in holder.members if tuple(sequences[i]) == same), key=lambda i: weights[i]
    )
    variant = same != tuple(sequences[holder.medoid_member])
    centrality = 0.0 if variant else holder.centrality
    first = Proposal(routing, holder.members, holder.support, variant, centrality)
    return [first, *(p for p in ranked if tuple(sequences[p.routing]) != same)]
