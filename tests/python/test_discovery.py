"""Aggregated discovery (apidiscovery.k8s.io/v2) as kube-apiserver serves it: kubectl learns
every resource from `/api` and `/apis` in two requests."""

import base64
import os
import subprocess

import requests
import yaml

ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
          "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def session(kubeconfig, data_dir):
    config = yaml.safe_load(open(kubeconfig))
    cluster = config["clusters"][0]["cluster"]
    ca = os.path.join(data_dir, "ca.pem")
    with open(ca, "wb") as f:
        f.write(base64.b64decode(cluster["certificate-authority-data"]))
    token = config["users"][0]["user"]["token"]

    class Client:
        @staticmethod
        def get(url, headers=None, timeout=10):
            # verify per request: a session's verify loses to REQUESTS_CA_BUNDLE in the env.
            return requests.get(url, headers={"Authorization": f"Bearer {token}", **(headers or {})},
                                verify=ca, timeout=timeout)

    return cluster["server"], Client


def test_aggregated_discovery_lists_every_group_and_resource(keks):
    server, s = session(keks.dev_cluster("disco"), keks.data_dir)
    core = s.get(server + "/api", headers={"Accept": ACCEPT}, timeout=10)
    assert core.status_code == 200
    assert core.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    body = core.json()
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    v1 = body["items"][0]["versions"][0]
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert "po" in pods["shortNames"]
    assert {"status", "binding", "eviction", "log"} <= {sub["subresource"] for sub in pods["subresources"]}

    groups = s.get(server + "/apis", headers={"Accept": ACCEPT}, timeout=10).json()
    names = [g["metadata"]["name"] for g in groups["items"]]
    assert "apps" in names and "rbac.authorization.k8s.io" in names
    apps = next(g for g in groups["items"] if g["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    scale = next(sub for sub in deployments["subresources"] if sub["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}

    older = s.get(server + "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"}, timeout=10)
    assert older.json()["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    legacy = s.get(server + "/apis", timeout=10).json()
    assert legacy["kind"] == "APIGroupList"


def test_kubectl_discovers_in_two_requests(keks, tmp_path):
    kc = keks.dev_cluster("disco2")
    out = subprocess.run(["kubectl", "--kubeconfig", kc, "--cache-dir", str(tmp_path), "api-resources", "-v=6"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    gets = [line for line in out.stderr.splitlines() if 'verb="GET"' in line or "GET https" in line]
    assert len(gets) == 2, gets
    assert "deployments" in out.stdout
