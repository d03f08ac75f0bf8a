"""Batched products verified against plain calls: the sample of rows, the comparison, the node whose
batching rule broke, and the plain recomputation (vjps, jvps)."""

from __future__ import annotations

import torch

from gradcheck_cli.numerics.autodiff import _verified_jvps, jvps, vjps
from gradcheck_cli.numerics.batching import BatchingFault, culprit, disagreement, sample_rows

ANCHORS = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-0.5, 1.5], [2.0, -1.0]], dtype=torch.float64)
POINT = torch.tensor([[0.1, 0.2], [1.0, -1.0], [0.5, 2.0], [-1.0, 0.3], [2.0, 2.0]], dtype=torch.float64)


def _nearest_graph() -> tuple[torch.Tensor, torch.Tensor]:
    a = POINT.clone().requires_grad_(True)
    # vmap of cdist's backward returns the first row for every row (torch 2.x): docs/pytorch-bugs.md
    return a, torch.cdist(a, ANCHORS).min(dim=1).values


def test_the_sample_is_first_last_and_one_seeded_row_between() -> None:
    assert sample_rows(1) == [0] and sample_rows(3) == [0, 1, 2]
    rows = sample_rows(100)
    assert rows[0] == 0 and rows[-1] == 99 and 0 < rows[1] < 99 and rows == sample_rows(100)


def test_disagreement_ignores_round_off_and_nan_pairs_but_not_a_wrong_row() -> None:
    plain = torch.tensor([1.0, -2.0, float("nan"), 0.0], dtype=torch.float64)
    assert disagreement(plain * (1 + 1e-13), plain) == 0.0
    assert disagreement(plain + torch.tensor([0, 0, 0, 1e-12], dtype=torch.float64), plain) == 0.0
    assert disagreement(torch.tensor([1.0, -2.0, float("nan"), 0.5], dtype=torch.float64), plain) == 0.5
    assert disagreement(torch.zeros(3), torch.zeros(4)) == float("inf")


def test_cdist_backward_batched_is_caught_recomputed_and_named() -> None:
    a, y = _nearest_graph()
    eye = torch.eye(5, dtype=torch.float64)
    plain = torch.stack([torch.autograd.grad(y, a, e, retain_graph=True)[0] for e in eye])
    faults: list[BatchingFault] = []
    (found,) = vjps([y], [a], [eye], faults)
    assert torch.equal(found, plain)
    assert [(f.product, f.op, f.rows) for f in faults] == [("vjp", "CdistBackward0", 5)]
    assert faults[0].difference > 0.1


def test_the_culprit_is_the_node_whose_batching_rule_breaks_not_its_neighbours() -> None:
    a, y = _nearest_graph()
    z = (2 * y).exp()  # right batching rules around the broken one
    rows = [[torch.eye(5, dtype=torch.float64)[r]] for r in (0, 4)]
    assert culprit([z], [a], rows) == "CdistBackward0"
    b = POINT.clone().requires_grad_(True)
    assert culprit([(b @ ANCHORS.T).min(dim=1).values], [b], rows) == ""


def test_right_batched_products_are_kept_without_a_fault() -> None:
    a = POINT.clone().requires_grad_(True)
    y = (a**3).sum(1)
    faults: list[BatchingFault] = []
    (found,) = vjps([y], [a], [torch.eye(5, dtype=torch.float64)], faults)
    assert torch.allclose(found.sum(0), 3 * POINT**2) and faults == []
    (tangent,) = jvps(lambda x: (x**3).sum(1), [POINT], [torch.ones(1, 5, 2, dtype=torch.float64)], faults)
    assert torch.allclose(tangent[0], (3 * POINT**2).sum(1)) and faults == []


def test_a_wrong_vmapped_jvp_is_replaced_by_plain_calls() -> None:
    def cube(x: torch.Tensor) -> tuple[torch.Tensor]:
        return (x**3,)

    x = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    tangents = [torch.eye(3, dtype=torch.float64)]
    right = torch.diag(3 * x**2)
    wrong = (right[:1].expand(3, 3).clone(),)  # the first column for every column
    faults: list[BatchingFault] = []
    (found,) = _verified_jvps(cube, [x], tangents, wrong, faults)
    assert torch.allclose(found, right)
    assert [(f.product, f.op, f.rows) for f in faults] == [("jvp", "", 3)]
