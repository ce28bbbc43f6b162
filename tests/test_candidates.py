"""Candidates from clusters of similar routings: clustering, medoid, alignment, ranking, and the
first candidate: the routing nearest the neighbours' vote."""

from __future__ import annotations

import pytest

from routing_core.candidates import (
    VOTE_SHARE,
    align,
    cluster_routings,
    medoid_of,
    nearest_the_vote,
    propose,
    vote,
)

A = [("SAW", "S1"), ("TURN", "L1"), ("MILL", "M1"), ("DEBURR", "B1"), ("INSP", "Q1")]
A_REWORK = [("SAW", "S1"), ("TURN", "L1"), ("TURN", "L1"), ("MILL", "M1"), ("DEBURR", "B1"),
            ("INSP", "Q1")]  # fmt: skip
A_SKIP = [("SAW", "S1"), ("TURN", "L1"), ("DEBURR", "B1"), ("INSP", "Q1")]
A_ALT = [("SAW", "S1"), ("TURN", "L2"), ("MILL", "M1"), ("DEBURR", "B1"), ("INSP", "Q1")]
B = [("CUT", "X1"), ("BEND", "P1"), ("WELD", "W1"), ("PAINT", "P2"), ("INSP", "Q1")]
B_SWAP = [("CUT", "X1"), ("WELD", "W1"), ("BEND", "P1"), ("PAINT", "P2"), ("INSP", "Q1")]


def test_similar_routings_form_one_cluster_whose_medoid_is_the_central_one():
    # no two routings of family A are identical: grouping identical sequences gave 5 groups of 1
    sequences = [A_REWORK, A_SKIP, A, A_ALT, B]
    clusters, points = cluster_routings(sequences, [1.0] * 5)
    assert len(clusters) == 2
    best = clusters[0]
    assert sorted(best.members) == [0, 1, 2, 3]
    assert list(points[best.medoid]) == A  # one edit from each of the others
    assert best.medoid_member == 2
    assert best.support == pytest.approx(4.0)
    assert clusters[1].members == [4]


def test_identical_routings_are_a_tight_cluster_and_weights_decide_the_order():
    sequences = [B, B, A, B_SWAP]
    clusters, _ = cluster_routings(sequences, [0.2, 0.2, 0.9, 0.1], radius=0.6)
    assert [sorted(c.members) for c in clusters] == [[2], [0, 1, 3]]  # 0.9 > 0.5
    assert clusters[1].spread == [1.0, 1.0, pytest.approx(0.6)]  # a swap is two edits of five
    assert clusters[1].medoid_member == 0  # B, the sequence of the heavier items
    clusters, _ = cluster_routings(sequences, [0.4, 0.4, 0.5, 0.1], radius=0.6)
    assert sorted(clusters[0].members) == [0, 1, 3]
    clusters, _ = cluster_routings(sequences, [0.4, 0.4, 0.5, 0.1])  # 0.6 < default radius
    assert [sorted(c.members) for c in clusters] == [[0, 1], [2], [3]]


def test_a_radius_of_one_groups_identical_sequences_only():
    clusters, _ = cluster_routings([A, A, A_ALT], [1.0, 1.0, 1.0], radius=1.0)
    assert [sorted(c.members) for c in clusters] == [[0, 1], [2]]


def test_medoid_of_a_handful_of_routings():
    assert medoid_of([A_SKIP, A, A_ALT]) == 1
    assert medoid_of([A_REWORK, A_SKIP, A_ALT, A]) == 3
    assert medoid_of([B]) == 0 and medoid_of([A, B]) == 0


def test_proposals_put_the_best_cluster_first_then_frequent_variants_before_thin_clusters():
    sequences = [A, A, A_ALT, A_ALT, A_SKIP, B]
    weights = [1.0, 1.0, 0.9, 0.9, 0.5, 0.3]
    assert propose(sequences, weights, limit=4) == propose(sequences, weights, 4, vote_share=0)
    proposals = propose(sequences, weights, limit=4, vote_share=0)
    assert [p.routing for p in proposals] == [0, 2, 4, 5]
    assert not proposals[0].variant and proposals[1].variant
    assert sorted(proposals[0].members) == [0, 1, 2, 3, 4]  # times come from the whole cluster
    assert proposals[0].support == pytest.approx(4.3)
    assert proposals[1].members == [2, 3] and proposals[1].support == pytest.approx(1.8)
    assert [p.routing for p in propose(sequences, weights, limit=1, vote_share=0)] == [0]
    assert propose([], [], limit=4) == [] == propose([], [], limit=4, vote_share=0)


def test_align_takes_times_from_the_same_step_nearest_in_position():
    assert align(A, A) == [0, 1, 2, 3, 4]
    assert align(A, A_REWORK) == [0, 1, 3, 4, 5]  # the repeated turning is not used twice
    assert align(A, A_SKIP) == [0, 1, None, 2, 3]  # no milling in the member
    assert align(A, A_ALT) == [0, 1, 2, 3, 4]  # same operation on another machine
    assert align(B, B_SWAP) == [0, 2, 1, 3, 4]


@pytest.fixture
def loaded(active_model):
    from inference_app.runtime import runtime

    tables = runtime.model.tables
    row = next(r for r in range(tables.n_items) if not tables.routings_of(r))
    attributes = {k: v for k, v in tables.attributes(row).items() if v is not None}
    return runtime.model, attributes


def opts(**changes) -> dict:
    from routing_core.predictor import options
    from workflow_app.config import current_settings

    return options(current_settings(), 10.0, **changes)


def test_below_the_threshold_the_closest_routings_come_back_with_low_confidence(loaded):
    from routing_core.predictor import predict_one

    model, attributes = loaded
    sure = predict_one(model, {"attributes": attributes}, opts(min_similarity=0.0))
    assert sure["status"] == "predicted" and sure["confidence"] == "high"
    unsure = predict_one(model, {"attributes": attributes}, opts(min_similarity=1.0))
    assert unsure["status"] == "predicted" and unsure["confidence"] == "low"
    assert "threshold 1.0" in unsure["detail"] and "best 0." in unsure["detail"]
    assert unsure["candidates"] and unsure["candidates"][0]["operations"]
    assert [c["operations"] for c in unsure["candidates"]] == [
        c["operations"] for c in sure["candidates"]
    ]


def test_no_match_only_when_no_attribute_is_known(loaded):
    from routing_core.predictor import predict_one

    model, _ = loaded
    answer = predict_one(model, {"attributes": {"NOT_AN_ATTRIBUTE": "x"}}, opts())
    assert answer["status"] == "no_match" and answer["confidence"] == "none"
    assert answer["candidates"] == [] and "None of the given attributes" in answer["detail"]


def test_candidates_carry_the_medoid_and_the_members_times(loaded):
    from routing_core.predictor import predict_one

    model, attributes = loaded
    answer = predict_one(model, {"attributes": attributes}, opts(min_similarity=0.0))
    for cand in answer["candidates"]:
        medoids = [r for r in cand["reference_items"] if r["medoid"]]
        assert medoids, "the proposed routing is one of its reference items'"
        assert cand["support"] == len(cand["reference_items"])
        assert all(1 <= o["samples"] <= cand["support"] for o in cand["operations"])


def test_equal_support_is_decided_by_the_medoids_centrality():
    sequences = [B, A, A_SKIP]  # B first in the input, A closer to the rest
    proposals = propose(sequences, [1.0, 1.0, 0.5], limit=3, radius=0.9, vote_share=0)
    assert [p.routing for p in proposals] == [1, 0, 2]
    assert proposals[0].support == proposals[1].support == 1.0
    assert proposals[0].centrality > proposals[1].centrality


def test_the_cluster_radius_is_a_workflow_setting_that_reaches_the_predictor():
    from routing_core.candidates import RADIUS
    from routing_core.predictor import options
    from routing_site.errors import BadInput
    from workflow_app.settings_schema import defaults, validate_changes

    assert defaults()["cluster_radius"] == RADIUS == 0.75
    assert options({**defaults(), "cluster_radius": 0.6})["cluster_radius"] == 0.6
    assert validate_changes({"cluster_radius": 0.6}) == {"cluster_radius": 0.6}
    for bad in (0.0, 1.5, "wide"):
        with pytest.raises(BadInput) as refused:
            validate_changes({"cluster_radius": bad})
        assert "cluster_radius" in refused.value.fields
    # the radius decides whether a one-edit variant joins the cluster
    assert len(propose([A, A_ALT], [1.0, 0.9], limit=4, radius=0.75)) == 2  # medoid + variant
    assert [p.variant for p in propose([A, A_ALT], [1.0, 0.9], limit=4, radius=0.9)] == [
        False, False,
    ]  # fmt: skip


# the vote: SAW, TURN and INSP in every routing; MILL in routings holding 3/4 of the support,
# DEBURR in routings holding 1/2 (weights in quarters, so the shares are exact)
SAW, TURN, MILL, DEBURR, INSP = ("SAW", "S1"), ("TURN", "L1"), ("MILL", "M1"), ("DEBURR", "B1"), (
    "INSP", "Q1")  # fmt: skip
VOTERS = [[SAW, TURN, MILL, INSP], [SAW, TURN, INSP], [SAW, MILL, TURN, DEBURR, INSP]]
VOTES = [1.0, 1.0, 2.0]


def test_the_vote_keeps_the_op_codes_whose_share_reaches_the_threshold():
    assert vote(VOTERS, VOTES, 0.5) == ["SAW", "MILL", "TURN", "DEBURR", "INSP"]  # 1/2 reaches 0.5
    assert vote(VOTERS, VOTES, 0.51) == ["SAW", "MILL", "TURN", "INSP"]  # DEBURR's 1/2 does not
    assert vote(VOTERS, VOTES, 0.75) == ["SAW", "MILL", "TURN", "INSP"]
    assert vote(VOTERS, VOTES, 0.76) == ["SAW", "TURN", "INSP"]
    assert vote(VOTERS, [0.0, 0.0, 0.0], 0.4) == []  # no support, no vote
    assert vote([], [], 0.4) == []


def test_the_vote_orders_op_codes_by_their_weighted_mean_relative_position():
    # MILL sits at 2/3 of the first routing and 1/4 of the third, TURN at 1/3, 1/2 and 1/2:
    # weighted 1, 1, 2 → MILL (2/3 + 2 × 1/4) / 3 = 0.39 before TURN (1/3 + 1/2 + 1) / 4 = 0.46
    assert vote(VOTERS, VOTES, 0.5)[1:3] == ["MILL", "TURN"]
    assert vote(VOTERS, [2.0, 1.0, 1.0], 0.5)[1:3] == ["TURN", "MILL"]  # (4/3 + 1/4) / 3 = 0.53
    # a repeated op code counts at its first place: TURN (3 × 0 + 1/2) / 4 = 0.125 before MILL
    # (3 × 1/3 + 0) / 4 = 0.25 (its mean place, (3 × 1/3 + 1/2) / 4 = 0.375, would come after)
    repeated = [[TURN, MILL, TURN, INSP], [MILL, TURN, INSP]]
    assert vote(repeated, [3.0, 1.0], 0.4) == ["TURN", "MILL", "INSP"]


def test_the_routing_nearest_the_vote_is_proposed_first_with_its_clusters_members():
    # the nearest item skipped milling and deburring; the others each keep what most keep
    full = [SAW, TURN, MILL, DEBURR, INSP]
    sequences = [[SAW, TURN, INSP], full, [SAW, TURN, MILL, INSP], [SAW, TURN, DEBURR, INSP]]
    weights = [1.0, 0.9, 0.8, 0.8]
    assert vote(sequences, weights, VOTE_SHARE) == ["SAW", "TURN", "MILL", "DEBURR", "INSP"]
    assert nearest_the_vote(sequences, weights) == 1
    alone = propose(sequences, weights, limit=4, radius=1.0)  # every routing its own cluster
    assert [p.routing for p in alone] == [1, 0, 2, 3]
    assert [p.routing for p in propose(sequences, weights, 4, radius=1.0, vote_share=0)] == [
        0, 1, 2, 3]  # fmt: skip
    # at the default radius all four are one cluster around [SAW, TURN, MILL, INSP]: the voted
    # routing (a variant in it) comes first with the whole cluster's members and support, the
    # medoid next, and the routing is not offered a second time as a variant
    today = propose(sequences, weights, limit=4, vote_share=0)
    assert [(p.routing, p.variant) for p in today] == [(2, False), (0, True), (1, True), (3, True)]
    voted = propose(sequences, weights, limit=4)
    assert [(p.routing, p.variant) for p in voted] == [(1, True), (2, False), (0, True), (3, True)]
    assert sorted(voted[0].members) == [0, 1, 2, 3] and voted[0].support == pytest.approx(3.5)
    assert [p.routing for p in propose(sequences, weights, limit=2)] == [1, 2]


def test_the_proposal_is_an_existing_routing_not_the_vote_itself():
    # no routing holds the vote [SAW, TURN, MILL, DEBURR, INSP]: the nearest existing one wins
    sequences = [[SAW, TURN, MILL, INSP], [SAW, TURN, DEBURR, INSP], [SAW, MILL, DEBURR, INSP]]
    weights = [1.0, 1.0, 1.0]
    assert vote(sequences, weights, VOTE_SHARE) == ["SAW", "TURN", "MILL", "DEBURR", "INSP"]
    # each is one edit from the vote; the second is one edit from both others, the most central
    assert nearest_the_vote(sequences, weights) == 1
    first = propose(sequences, weights, limit=1, radius=1.0)[0]
    assert first.routing == 1 and first.members == [1] and not first.variant


def test_ties_go_to_the_first_neighbour():
    # the same op codes on another lathe: equal vote similarity and centrality
    assert nearest_the_vote([A, A_ALT], [1.0, 1.0]) == 0
    assert nearest_the_vote([A_ALT, A], [1.0, 1.0]) == 0
    assert [p.routing for p in propose([A_ALT, A], [1.0, 1.0], limit=2, radius=1.0)] == [0, 1]
    # identical routings: the first of them (the highest similarity) is the one proposed
    assert nearest_the_vote([A_SKIP, A, A, B], [1.0, 0.9, 0.9, 0.2]) == 1


def test_the_vote_share_is_a_workflow_setting_that_reaches_the_predictor():
    from routing_core.predictor import options
    from routing_site.errors import BadInput
    from workflow_app.blueprints import NODE_SETTINGS
    from workflow_app.settings_schema import defaults, validate_changes

    assert defaults()["vote_share"] == VOTE_SHARE == 0.4
    assert options(defaults())["vote_share"] == 0.4
    assert options({**defaults(), "vote_share": 0})["vote_share"] == 0
    assert validate_changes({"vote_share": 0}) == {"vote_share": 0.0}
    assert validate_changes({"vote_share": 1}) == {"vote_share": 1.0}
    assert "vote_share" in NODE_SETTINGS["predictor"]
    for bad in (-0.1, 1.01, "half", True, None, float("nan")):
        with pytest.raises(BadInput) as refused:
            validate_changes({"vote_share": bad})
        assert list(refused.value.fields) == ["vote_share"]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.4", True, None])
def test_a_vote_share_outside_0_to_1_is_refused_by_the_settings_api(bad):
    from rest_framework.test import APIClient

    from accounts_app.testing import make_user
    from workflow_app.models import WorkflowConfig

    client = APIClient()
    client.force_authenticate(make_user("engineer-vote", "engineer"))
    before = (WorkflowConfig.current_id(), WorkflowConfig.current_values())
    response = client.patch("/api/v1/workflow", {"vote_share": bad}, format="json")
    assert response.status_code == 400
    assert "vote_share" in response.json()["fields"]
    assert (WorkflowConfig.current_id(), WorkflowConfig.current_values()) == before
    accepted = client.patch("/api/v1/workflow", {"vote_share": 0}, format="json")
    assert accepted.status_code == 200 and WorkflowConfig.current_values()["vote_share"] == 0


@pytest.mark.django_db
def test_a_blueprint_carries_the_vote_share_on_its_predictor_node(engineer_api):
    from workflow_app.blueprints import default_graph, validate_graph
    from workflow_app.models import Blueprint, WorkflowConfig

    def with_vote_share(value) -> dict:
        g = default_graph()
        next(n for n in g["nodes"] if n["type"] == "predictor")["settings"]["vote_share"] = value
        return g

    predictor = next(n for n in default_graph()["nodes"] if n["type"] == "predictor")
    assert predictor["settings"]["vote_share"] == 0.4
    assert any("vote_share" in e["message"] for e in validate_graph(with_vote_share(2)))
    assert not validate_graph(with_vote_share(0))
    bp = Blueprint.create("medoid first", with_vote_share(0))
    response = engineer_api.post(f"/api/v1/blueprints/{bp.pk}/apply")
    assert response.status_code == 200, response.json()
    assert WorkflowConfig.current_values()["vote_share"] == 0.0


def test_the_vote_breaks_a_tie_up_to_rounding_for_the_first_routing():
    # routings 0 and 2 score the same (each op code in two of three routings); the sums'
    # order of additions once made the third one win
    routings = [
        [("MILL", 3), ("SAW", 3), ("SAW", 2)],
        [("WELD", 2), ("DRILL", 3), ("SAW", 3)],
        [("MILL", 2), ("DRILL", 2), ("DRILL", 1)],
    ]
    assert nearest_the_vote(routings, [1.0, 1.0, 1.0]) == 0
