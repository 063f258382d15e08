"""deploy/: the Kubernetes manifests are valid against Kubernetes' own schemas (kubernetes-validate,
strict: no unknown field), and every file agrees with the others and with Cumulo: the probes ask
the health path the server answers, selectors select the pods, the Secret holds what the pods
read, the load balancer knows every node, the image runs `cumulo up` on the ports it exposes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from cumulo.api.gate import HEALTH_PATH
from cumulo.cli.main import up

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "cumulo.yaml").read_text())}


def test_every_manifest_is_valid_against_kubernetes_schemas() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "cumulo.yaml").read_text()))
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_manifests_agree_with_each_other_and_with_cumulo() -> None:
    m = manifests()
    deployment, pod = m["Deployment"], m["Deployment"]["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert m["Service"]["spec"]["selector"].items() <= labels.items()
    assert m["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert m["PodDisruptionBudget"]["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH_PATH, "port": "api"}
    assert {p["targetPort"] for p in m["Service"]["spec"]["ports"]} == set(ports)
    args = container["args"]
    assert args[:2] == ["cumulo", "up"]
    assert int(args[args.index("--port") + 1]) == ports["api"]
    assert int(args[args.index("--gateway-port") + 1]) == ports["gateway"]
    up.make_context("up", args[2:])                      # `cumulo up` takes these options
    secret = m["Secret"]["stringData"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CUMULO_STORE"]["valueFrom"]["secretKeyRef"]["key"] in secret
    assert secret["store"].startswith("postgresql://")
    (key_volume,) = [v for v in pod["spec"]["volumes"] if "secret" in v]
    (mount,) = [v for v in container["volumeMounts"] if v["name"] == key_volume["name"]]
    (item,) = key_volume["secret"]["items"]
    assert item["key"] in secret and env["CUMULO_MASTER_KEY_FILE"]["value"] == f"{mount['mountPath']}/{item['path']}"
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 30       # the node's graceful drain


def test_compose_runs_three_nodes_on_its_postgresql_behind_the_load_balancer() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    nodes = sorted(name for name, s in services.items() if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile")
    assert nodes == ["node1", "node2", "node3"]
    pg = services["postgres"]["environment"]
    url = f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    for name in nodes:
        node = services[name]
        assert node["environment"]["CUMULO_STORE"] == url
        assert node["environment"]["CUMULO_MASTER_KEY_FILE"] == "/run/secrets/master_key"
        assert HEALTH_PATH in " ".join(node["healthcheck"]["test"])
    nginx = (DEPLOY / "nginx.conf").read_text()
    for port in ("9000", "8080"):
        assert sorted(re.findall(rf"server (node\d):{port}", nginx)) == nodes


def test_the_image_serves_cumulo_up_on_the_ports_it_exposes() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --no-cache-dir '.[postgresql]'" in dockerfile
    exposed = re.search(r"^EXPOSE (.+)$", dockerfile, re.M)
    assert exposed is not None and exposed.group(1).split() == ["9000", "8080"]
    cmd = yaml.safe_load(re.search(r"^CMD (.+)$", dockerfile, re.M).group(1))     # type: ignore[union-attr]
    assert cmd[:2] == ["cumulo", "up"] and cmd[cmd.index("--port") + 1] == "9000"
    assert cmd[cmd.index("--gateway-port") + 1] == "8080" and HEALTH_PATH in dockerfile
