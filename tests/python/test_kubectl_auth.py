"""kubectl's identity and permission views: `kubectl auth whoami` (SelfSubjectReview) and
`kubectl auth can-i --list` (SelfSubjectRulesReview), answered from the authenticator and
the cluster's RBAC."""

import json
import subprocess


def kubectl(kc, *args):
    return subprocess.run(["kubectl", "--kubeconfig", kc, *args], capture_output=True, text=True, timeout=60)


def test_whoami_and_can_i_list(keks):
    kc = keks.dev_cluster("authz")
    me = json.loads(kubectl(kc, "auth", "whoami", "-o", "json").stdout)
    assert me["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert "system:masters" in me["status"]["userInfo"]["groups"]
    admin = kubectl(kc, "auth", "can-i", "--list").stdout
    assert "*.*" in admin.splitlines()[1]

    assert kubectl(kc, "create", "namespace", "team").returncode == 0
    assert kubectl(kc, "create", "serviceaccount", "bob", "-n", "team").returncode == 0
    assert kubectl(kc, "create", "rolebinding", "bob-edit", "--clusterrole=edit", "--serviceaccount=team:bob",
                   "-n", "team").returncode == 0
    bob = "system:serviceaccount:team:bob"
    in_team = kubectl(kc, "auth", "can-i", "--list", "--as", bob, "-n", "team").stdout
    deployments = [line for line in in_team.splitlines() if line.startswith("deployments.apps ")]
    assert deployments and "create" in deployments[0] and "delete" in deployments[0]
    elsewhere = kubectl(kc, "auth", "can-i", "--list", "--as", bob, "-n", "default").stdout
    assert not any(line.startswith("deployments.apps ") for line in elsewhere.splitlines())
    whoami_bob = json.loads(kubectl(kc, "auth", "whoami", "--as", bob, "-o", "json").stdout)
    assert whoami_bob["status"]["userInfo"]["username"] == bob
