"""deploy/: validated with the tools made for each format.

Prometheus config and rules with ``promtool`` (Debian's prometheus package), the metrics
exposition with ``promtool check metrics``, Kubernetes manifests against the official
OpenAPI-derived JSON schemas shipped by ``kubernetes-validate`` (strict: unknown fields
fail), the Grafana dashboard's PromQL in tests/serve/test_live.py against a live
Prometheus, and the Dockerfiles' commands with qkeras' own argument parser.
"""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from qkeras.cli import build_parser
from qkeras.serve import ServeMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _promtool():
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is absent (apt-get install prometheus; .ci/run installs it)")
    return binary


def test_promtool_accepts_the_prometheus_config_and_alert_rules():
    promtool = _promtool()
    for args in (["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                 ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_lints_the_metrics_exposition_clean():
    metrics = ServeMetrics()
    metrics.observe_request("m", "1", "predict", 200, 0.002)
    metrics.observe_batch("m", "1", 8)
    metrics.observe_load("m", "1", 1.5)
    result = subprocess.run([_promtool(), "check", "metrics"], input=metrics.exposition(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


def test_kubernetes_manifests_validate_strictly_against_the_schemas():
    import kubernetes_validate

    kinds = set()
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
            kinds.add(doc["kind"])
    assert kinds == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment = yaml.safe_load((DEPLOY / "kubernetes" / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):  # the check can fail
        kubernetes_validate.validate(broken, "1.30.0", strict=True)


def test_deployment_arguments_parse_as_a_qkeras_serve_command():
    deployment = yaml.safe_load((DEPLOY / "kubernetes" / "deployment.yaml").read_text())
    config = yaml.safe_load((DEPLOY / "kubernetes" / "configmap.yaml").read_text())["data"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    expanded = [re.sub(r"\$\((\w+)\)", lambda m: config[m.group(1)], a) for a in args]
    parsed = build_parser().parse_args(["serve", *expanded])
    assert parsed.base_dir == "/models" and parsed.model_name == "xray"
    assert parsed.max_batch == 64 and parsed.poll_seconds == 10.0


def _instruction(dockerfile: Path, name: str) -> list[str]:
    lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
    return [line.split(None, 1)[1] for line in lines if line.startswith(name + " ")]


def test_dockerfiles_run_commands_qkeras_understands():
    serve = DEPLOY / "Dockerfile.qkeras-serve"
    entry = json.loads(_instruction(serve, "ENTRYPOINT")[0])
    cmd = json.loads(_instruction(serve, "CMD")[0])
    assert entry == ["qkeras", "serve"]
    assert build_parser().parse_args(["serve", *cmd]).host == "0.0.0.0"
    stock = DEPLOY / "Dockerfile.tf-serving"
    assert _instruction(stock, "FROM")[-1].startswith("tensorflow/serving:")
    (export,) = [r for r in _instruction(stock, "RUN") if r.startswith("qkeras export")]
    words = [w.replace("${MODEL_NAME}", "xray") for w in shlex.split(export)[1:]]
    parsed = build_parser().parse_args(words)
    assert parsed.name == "xray" and parsed.portable  # portable: no TFQ ops for TF Serving


def test_grafana_dashboard_has_the_panels_operators_need():
    dashboard = json.loads((DEPLOY / "grafana" / "qkeras-serve-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs
    for metric in ("qkeras_serve_requests_total", "qkeras_serve_batch_size_sum",
                   "qkeras_serve_request_duration_seconds_bucket",
                   "qkeras_serve_batch_start_delay_seconds_sum"):
        assert metric in exprs
    assert 'status=~"4..|5.."' in exprs
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
