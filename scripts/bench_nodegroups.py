"""The managed node group benchmark (run by scripts/bench-nodegroups.sh against a running
`keks up --timing fast`): node groups scaled from 0 to 1,000 nodes in total — EKS allows 450
nodes per group, so three groups of 334, 333 and 333 scaled by one UpdateNodegroupConfig
each — timed from the first request until every node is Ready (seen through a watch on
nodes); keks' resident memory per idle node (VmRSS after the nodes settled minus before,
over the nodes); then a Deployment of 10,000 pods, timed from its creation until every pod
is Running (a watch on pods). Prints the results, and writes them as JSON with --json.

Usage: bench_nodegroups.py DATA_DIR KEKS_PID [--nodes 1000] [--pods 10000] [--json FILE]"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import boto3
import kubernetes

GROUP_QUOTA = 450


def read_env(data_dir):
    env = {}
    for line in open(os.path.join(data_dir, "env.sh")).read().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = value.strip("'")
    return env


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def until(what, check, timeout=600, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)


class Watch(threading.Thread):
    """Follows a collection through a raw watch (no model objects: they would cost more
    CPU than keks itself), keeping `state(obj)` per object name."""

    def __init__(self, api, path, state):
        super().__init__(daemon=True)
        self.api, self.path, self.state = api, path, state
        self.objects = {}
        self.lock = threading.Lock()
        self.started = threading.Event()

    def count(self, value=True):
        with self.lock:
            return sum(1 for v in self.objects.values() if v == value)

    def run(self):
        listed = self.get(self.path)
        with self.lock:
            for item in listed["items"]:
                self.objects[item["metadata"]["name"]] = self.state(item)
        rv = listed["metadata"]["resourceVersion"]
        resp = self.api.call_api(self.path, "GET", query_params=[("watch", "true"), ("resourceVersion", rv),
                                                                   ("allowWatchBookmarks", "true")],
                                 auth_settings=["BearerToken"], _preload_content=False, _request_timeout=3600)[0]
        self.started.set()
        buf = b""
        for chunk in resp.stream(1 << 16):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                with self.lock:
                    if event["type"] == "DELETED":
                        self.objects.pop(name, None)
                    else:
                        self.objects[name] = self.state(obj)

    def get(self, path):
        resp = self.api.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False)[0]
        return json.loads(resp.data)


def node_ready(node):
    if "eks.amazonaws.com/nodegroup" not in node["metadata"].get("labels", {}):
        return False
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


def pod_running(pod):
    return pod.get("status", {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data_dir")
    p.add_argument("pid", type=int)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--json")
    args = p.parse_args()
    env = read_env(args.data_dir)
    session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                    region_name=env["AWS_DEFAULT_REGION"])
    eks = session.client("eks", endpoint_url=env["AWS_ENDPOINT_URL"])
    iam = session.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"])
    ec2 = session.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"])
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "eks.amazonaws.com"}}]})
    cluster_role = iam.create_role(RoleName="bench-cluster", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    node_role = iam.create_role(RoleName="bench-nodes", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
               if any(t["Key"] == "kubernetes.io/role/internal-elb" for t in s.get("Tags", []))]
    eks.create_cluster(name="bench", roleArn=cluster_role, resourcesVpcConfig={"subnetIds": subnets})
    until("the cluster ACTIVE", lambda: eks.describe_cluster(name="bench")["cluster"]["status"] == "ACTIVE")

    kubeconfig = os.path.join(args.data_dir, "bench.kubeconfig")
    aws_env = dict(os.environ, **{k: v for k, v in env.items() if k.startswith("AWS_")})
    aws_env.pop("AWS_PROFILE", None)
    aws = os.path.join(os.path.dirname(os.path.realpath(sys.executable)), "aws")
    subprocess.run([aws, "eks", "update-kubeconfig", "--name", "bench", "--kubeconfig", kubeconfig],
                   env=aws_env, check=True, capture_output=True)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    kubernetes.config.load_kube_config(config_file=kubeconfig)
    api = kubernetes.client.ApiClient()

    sizes = []
    left = args.nodes
    groups = -(-args.nodes // GROUP_QUOTA)
    for g in range(groups):
        n = -(-left // (groups - g))
        sizes.append(n)
        left -= n
    names = [f"ng-{i}" for i in range(groups)]
    for name in names:
        eks.create_nodegroup(clusterName="bench", nodegroupName=name, nodeRole=node_role, subnets=subnets,
                             scalingConfig={"minSize": 0, "maxSize": GROUP_QUOTA, "desiredSize": 0})
    for name in names:
        until(f"{name} ACTIVE", lambda: eks.describe_nodegroup(
            clusterName="bench", nodegroupName=name)["nodegroup"]["status"] == "ACTIVE")
    nodes = Watch(api, "/api/v1/nodes", node_ready)
    nodes.start()
    nodes.started.wait(30)
    time.sleep(3)
    rss_before = rss_kib(args.pid)

    t0 = time.monotonic()
    for name, n in zip(names, sizes):
        eks.update_nodegroup_config(clusterName="bench", nodegroupName=name, scalingConfig={"desiredSize": n})
    until(f"{args.nodes} Ready nodes", lambda: nodes.count() >= args.nodes, every=0.01)
    ready_s = time.monotonic() - t0
    print(f"{args.nodes} nodes Ready in {ready_s:.2f} s ({len(names)} groups: {sizes})", flush=True)
    for name in names:
        until(f"{name} ACTIVE", lambda: eks.describe_nodegroup(
            clusterName="bench", nodegroupName=name)["nodegroup"]["status"] == "ACTIVE", every=0.2)
    # Idle: the nodes' first heartbeats and leases are written; then memory is read.
    time.sleep(15)
    rss_after = rss_kib(args.pid)
    per_node = (rss_after - rss_before) / args.nodes
    print(f"keks RSS {rss_before / 1024:.1f} MiB → {rss_after / 1024:.1f} MiB idle with the nodes: "
          f"{per_node:.1f} KiB per node", flush=True)

    pods = Watch(api, "/api/v1/namespaces/default/pods", pod_running)
    pods.start()
    pods.started.wait(30)
    labels = {"app": "bench"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
                  "spec": {"replicas": args.pods, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels},
                                        "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}
    t0 = time.monotonic()
    kubernetes.client.AppsV1Api().create_namespaced_deployment("default", deployment)
    until(f"{args.pods} Running pods", lambda: pods.count() >= args.pods, timeout=1800, every=0.05)
    running_s = time.monotonic() - t0
    print(f"{args.pods} pods Running in {running_s:.2f} s ({args.pods / running_s:.0f} pods/s)", flush=True)
    rss_pods = rss_kib(args.pid)
    print(f"keks RSS with the pods: {rss_pods / 1024:.1f} MiB", flush=True)
    result = {"nodes": args.nodes, "groups": sizes, "nodes_ready_seconds": round(ready_s, 3),
              "rss_before_kib": rss_before, "rss_idle_nodes_kib": rss_after,
              "rss_per_idle_node_kib": round(per_node, 1), "pods": args.pods,
              "pods_running_seconds": round(running_s, 3), "rss_with_pods_kib": rss_pods}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
