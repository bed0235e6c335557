"""Pods on Fargate end to end with the aws CLI and kubectl: a profile selecting a namespace
and a label places matching pods on micro-VM nodes of their own with EKS's sizes, leaves the
rest Pending, refuses what Fargate cannot run, never takes DaemonSet pods, and meters the
cost until the pods are deleted."""

import json
import time
import urllib.request

from test_eks import aws_env, create_cluster, kubeconfig_for, kubectl
from test_eks_fargate import clients, pod_role

MENU_SMALL_USD_PER_HOUR = 0.25 * 0.04048 + 0.5 * 0.004445


def wait(what, check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def pods(kc, env, ns, selector=None):
    args = ["get", "pods", "-n", ns, "-o", "json"] + (["-l", selector] if selector else [])
    return json.loads(kubectl(kc, *args, env=env).stdout)["items"]


def apply(kc, env, obj):
    import subprocess
    out = subprocess.run(["kubectl", "--kubeconfig", kc, "apply", "-f", "-"], input=json.dumps(obj), env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def deployment(name, ns, labels, replicas=3, resources=None, init=None):
    container = {"name": "app", "image": "nginx", "resources": resources or {}}
    spec = {"containers": [container]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": "busybox", "resources": init}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def costs(keks, cluster):
    req = urllib.request.Request(f"{keks.env['KEKS_ENDPOINT_URL']}/_keks/costs?cluster={cluster}",
                                 headers={"Authorization": f"Bearer {keks.env['KEKS_ADMIN_TOKEN']}"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def test_fargate_places_sizes_refuses_and_meters(keks):
    create_cluster(keks, "fgrun", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    role = pod_role(iam)
    eks.create_fargate_profile(clusterName="fgrun", fargateProfileName="web", podExecutionRoleArn=role,
                               selectors=[{"namespace": "apps", "labels": {"compute": "fargate"}}])
    eks.get_waiter("fargate_profile_active").wait(clusterName="fgrun", fargateProfileName="web",
                                                  WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "fgrun")
    env = aws_env(keks)
    assert kubectl(kc, "create", "namespace", "apps", env=env).returncode == 0

    # Without the label: no Fargate, and no other capacity, so Pending.
    apply(kc, env, deployment("plain", "apps", {"app": "plain"}, replicas=2))
    wait("plain pods", lambda: len(pods(kc, env, "apps", "app=plain")) == 2)
    time.sleep(1)
    assert all(p["status"]["phase"] == "Pending" for p in pods(kc, env, "apps", "app=plain"))

    # With it: each replica on its own Fargate node, sized as the menu says.
    apply(kc, env, deployment("web", "apps", {"app": "web", "compute": "fargate"}, replicas=3,
                              resources={"requests": {"cpu": "100m", "memory": "200Mi"}}))
    def web_running():
        up = [p for p in pods(kc, env, "apps", "app=web") if p["status"].get("phase") == "Running"]
        return up if len(up) == 3 else None

    running = wait("web pods Running", web_running)
    nodes = {p["spec"]["nodeName"] for p in running}
    assert len(nodes) == 3 and all(n.startswith("fargate-ip-") and n.endswith(".ec2.internal") for n in nodes)
    for p in running:
        assert p["metadata"]["annotations"]["CapacityProvisioned"] == "0.25vCPU 0.5GB"
        assert p["spec"]["schedulerName"] == "fargate-scheduler"
        node = json.loads(kubectl(kc, "get", "node", p["spec"]["nodeName"], "-o", "json", env=env).stdout)
        assert node["metadata"]["labels"]["eks.amazonaws.com/compute-type"] == "fargate"
        assert node["spec"]["taints"][0]["key"] == "eks.amazonaws.com/compute-type"
        assert p["status"]["podIP"] == node["status"]["addresses"][0]["address"]

    for name, resources, init, expected in [
        ("m1", {"requests": {"cpu": "1", "memory": "3Gi"}}, None, "1vCPU 4GB"),
        ("m3", {"requests": {"cpu": "3", "memory": "20Gi"}}, None, "4vCPU 21GB"),
        ("init", {"requests": {"cpu": "500m", "memory": "1Gi"}}, {"requests": {"cpu": "2", "memory": "4Gi"}}, "2vCPU 5GB"),
    ]:
        apply(kc, env, deployment(name, "apps", {"app": name, "compute": "fargate"}, replicas=1,
                                  resources=resources, init=init))
        placed = wait(f"{name} placed", lambda: [p for p in pods(kc, env, "apps", f"app={name}")
                                                 if p["metadata"].get("annotations", {}).get("CapacityProvisioned")])
        assert placed[0]["metadata"]["annotations"]["CapacityProvisioned"] == expected, name

    # What Fargate cannot run stays Pending, saying why.
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priv", "namespace": "apps",
                                                                 "labels": {"compute": "fargate"}},
                  "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]}}
    apply(kc, env, privileged)
    message = wait("the refusal", lambda: next((c.get("message") for p in pods(kc, env, "apps") if p["metadata"]["name"] == "priv"
                                                for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"), None))
    assert message == "Pod not supported on Fargate: invalid SecurityContext fields: Privileged"
    events = kubectl(kc, "get", "events", "-n", "apps", "--field-selector", "involvedObject.name=priv", env=env).stdout
    assert "FailedScheduling" in events and "Privileged" in events

    # A DaemonSet never lands on Fargate nodes (their taint).
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "apps"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent", "compute": "fargate"}},
                                "spec": {"containers": [{"name": "a", "image": "agent"}]}}}}
    apply(kc, env, ds)
    time.sleep(1)
    assert pods(kc, env, "apps", "app=agent") == []

    # Deleting the Deployment removes its nodes; the bill is the one-minute minimum each.
    assert kubectl(kc, "delete", "deployment", "web", "-n", "apps", env=env).returncode == 0
    wait("web nodes gone", lambda: not any(n in kubectl(kc, "get", "nodes", env=env).stdout for n in nodes))
    report = wait("billing ended", lambda: (lambda r: r if all(p["ended"] for p in r["fargate"][0]["pods"]
                                                                   if p["name"].startswith("web-")) else None)(costs(keks, "fgrun")))
    web = [p for p in report["fargate"][0]["pods"] if p["name"].startswith("web-")]
    # Every web pod ever placed is billed (3, or more if the ReplicaSet replaced one).
    assert len(web) >= 3
    for p in web:
        assert p["capacityProvisioned"] == "0.25vCPU 0.5GB"
        assert p["billedSeconds"] < 60
        assert abs(p["usd"] - MENU_SMALL_USD_PER_HOUR / 60) < 1e-9
    assert report["fargate"][0]["profiles"]["web"] > 0


def test_fargate_refuses_unbound_and_ebs_claims_and_runs_efs_ones(keks):
    create_cluster(keks, "fgvol", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    eks.create_fargate_profile(clusterName="fgvol", fargateProfileName="data", podExecutionRoleArn=pod_role(iam),
                               selectors=[{"namespace": "data"}])
    eks.get_waiter("fargate_profile_active").wait(clusterName="fgvol", fargateProfileName="data",
                                                  WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "fgvol")
    env = aws_env(keks)
    assert kubectl(kc, "create", "namespace", "data", env=env).returncode == 0
    # EKS's gp2 class is there, not default from 1.30, and nothing provisions it.
    gp2 = json.loads(kubectl(kc, "get", "storageclass", "gp2", "-o", "json", env=env).stdout)
    assert gp2["provisioner"] == "kubernetes.io/aws-ebs" and gp2["volumeBindingMode"] == "WaitForFirstConsumer"

    def claim(name, storage_class, volume=None):
        spec = {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                "resources": {"requests": {"storage": "5Gi"}}}
        if volume:
            spec["volumeName"] = volume
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": "data"}, "spec": spec}

    def volume(name, storage_class, driver, handle):
        return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": storage_class,
                         "csi": {"driver": driver, "volumeHandle": handle}}}

    def pod(name, claim_name):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "data"},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                                         "volumeMounts": [{"name": "store", "mountPath": "/data"}]}],
                         "volumes": [{"name": "store", "persistentVolumeClaim": {"claimName": claim_name}}]}}

    def scheduled_message(name):
        for p in pods(kc, env, "data"):
            if p["metadata"]["name"] == name:
                for c in p["status"].get("conditions", []):
                    if c["type"] == "PodScheduled" and c.get("message"):
                        return c["message"]
        return None

    def phase(kind, name, ns=None):
        args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
        return json.loads(kubectl(kc, *args, env=env).stdout).get("status", {}).get("phase")

    apply(kc, env, claim("gp2-claim", "gp2"))
    apply(kc, env, volume("ebs-pv", "ebs-static", "ebs.csi.aws.com", "vol-0123456789abcdef0"))
    apply(kc, env, claim("ebs-claim", "ebs-static", volume="ebs-pv"))
    apply(kc, env, volume("efs-pv", "efs-static", "efs.csi.aws.com", "fs-0123456789abcdef0"))
    apply(kc, env, claim("efs-claim", "efs-static"))
    wait("the EBS claim bound", lambda: phase("pvc", "ebs-claim", "data") == "Bound")
    wait("the EFS claim bound", lambda: phase("pvc", "efs-claim", "data") == "Bound")
    assert phase("pv", "efs-pv") == "Bound" and phase("pvc", "gp2-claim", "data") == "Pending"

    apply(kc, env, pod("on-gp2", "gp2-claim"))
    apply(kc, env, pod("on-ebs", "ebs-claim"))
    apply(kc, env, pod("on-efs", "efs-claim"))
    assert wait("the gp2 refusal", lambda: scheduled_message("on-gp2")) == \
        "Pod not supported on Fargate: volumes not supported: store not supported because: PVC gp2-claim not bound"
    assert wait("the EBS refusal", lambda: scheduled_message("on-ebs")) == \
        ("Pod not supported on Fargate: volumes not supported: store not supported because: "
         "PVC ebs-claim bound to invalid PV ebs-pv with CSI Driver: ebs.csi.aws.com")
    wait("the EFS pod Running", lambda: phase("pod", "on-efs", "data") == "Running")
    assert all(phase("pod", p, "data") == "Pending" for p in ["on-gp2", "on-ebs"])
