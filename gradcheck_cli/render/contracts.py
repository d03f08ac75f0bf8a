"""The wording of the contract checks (:class:`~gradcheck_cli.result.Contract`): a title per contract and a
sentence for a broken one. Pure strings; every renderer words contracts through here."""

from __future__ import annotations

from gradcheck_cli.contract import Contract
from gradcheck_cli.result import CheckResult

TITLES = {
    "grad_metadata": "gradient dtype, device, shape and layout",
    "zero_grad_output": "zero output gradient gives zero",
    "undefined_grad": "undefined output gradients accepted",
    "batched_grad": "vmap of the backward agrees with single calls",
    "batched_forward_grad": "vmap of the forward-mode derivative agrees with single calls",
    "grad_outputs": "double backward w.r.t. the output gradients",
}


def _outputs(contract: Contract) -> str:
    return (
        "every output gradient"
        if contract.output_name == "*"
        else f"the gradient of output {contract.output_name}"
    )


def _detail(c: Contract) -> str:
    if c.error:
        return f"the backward raised {c.error}"
    if c.name == "grad_metadata":
        return f"the gradient of {c.input_name} has {c.aspect} {c.found}, expected {c.expected}"
    if c.name == "zero_grad_output":
        return (
            f"a zero output gradient gives {c.input_name} a gradient of magnitude up to {c.found}, expected 0: "
            "the backward does not multiply by grad_output"
        )
    if c.name == "undefined_grad":
        return f"with {_outputs(c)} undefined, {c.input_name} gets a gradient of magnitude up to {c.found}, expected 0"
    if c.name == "batched_grad":
        return (
            f"the backward of output {c.output_name} batched over two output gradients gives {c.input_name} a "
            f"gradient differing from two single backwards by up to {c.found}"
        )
    if c.name == "batched_forward_grad":
        return (
            f"vmap over a batch of points and tangents gives output {c.output_name} {c.aspect} differing from "
            f"single calls by up to {c.found} (a custom Function's vmap rule?)"
        )
    return f"{c.output_name} w.r.t. {c.input_name} fails (the entries above): the double backward along grad_output"


def contract_line(contract: Contract) -> str:
    """``contract zero_grad_output (zero output gradient gives zero): FAIL: ...``."""
    head = f"contract {contract.name} ({TITLES.get(contract.name, contract.name)})"
    return f"{head}: PASS" if contract.passed else f"{head}: FAIL: {_detail(contract)}"


def contracts_summary(result: CheckResult) -> str:
    """``contracts: grad_metadata PASS, zero_grad_output FAIL`` (empty when none ran)."""
    if not result.contracts:
        return ""
    return "contracts: " + ", ".join(f"{c.name} {'PASS' if c.passed else 'FAIL'}" for c in result.contracts)


def broken_lines(result: CheckResult) -> list[str]:
    """One sentence per broken contract."""
    return [contract_line(contract) for contract in result.broken_contracts]
