"""Prometheus and Grafana provisioning shipped for docker-compose.yml: valid files,
wired to each other, and every query naming a metric the service really exports."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from core import metrics

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DEPLOY = BASE_DIR / "deploy"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana/dashboards/eventtracker.json").read_text("utf-8"))


def _exported_sample_names() -> set[str]:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    families = [family for c in metrics.scrape_collectors() for family in c.describe()]
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            families += metric.describe()
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def test_dashboard_queries_name_exported_metrics(dashboard):
    exported = _exported_sample_names()
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"eventtracker_[a-z_]+", target["expr"])
    }

    assert queried
    assert queried <= exported, queried - exported


def test_dashboard_shows_ingest_rate_rejections_latency_and_errors(dashboard):
    titles = " | ".join(panel["title"] for panel in dashboard["panels"]).lower()
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])

    for word in ("ingested", "rejected", "latency", "errors", "job lag"):
        assert word in titles
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_grafana_datasource_points_at_prometheus_and_matches_the_dashboard(dashboard):
    (source,) = _yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    provider = _yaml(DEPLOY / "grafana/provisioning/dashboards/eventtracker.yml")["providers"][0]

    assert source["url"] == "http://prometheus:9090"
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {source["uid"]}
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_prometheus_scrapes_the_web_service_with_the_token():
    (job,) = _yaml(DEPLOY / "prometheus/prometheus.yml")["scrape_configs"]

    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert job["authorization"]["credentials_file"] == "/etc/prometheus/metrics_token"


def test_compose_runs_prometheus_and_grafana_with_these_files():
    services = _yaml(BASE_DIR / "docker-compose.yml")["services"]

    prometheus, grafana = services["prometheus"], services["grafana"]
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in (prometheus["volumes"])
    )
    assert prometheus["secrets"][0]["target"] == "/etc/prometheus/metrics_token"
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
