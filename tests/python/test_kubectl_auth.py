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


def test_service_account_tokens(keks):
    kc = keks.dev_cluster("satokens")
    assert kubectl(kc, "create", "serviceaccount", "bot").returncode == 0
    token = kubectl(kc, "create", "token", "bot").stdout.strip()
    assert token.count(".") == 2
    who = json.loads(kubectl(kc, "--token", token, "auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:bot"
    assert "system:serviceaccounts:default" in who["status"]["userInfo"]["groups"]
    out = kubectl(kc, "--token", token, "get", "pods")
    assert out.returncode != 0 and "Forbidden" in out.stderr
    assert kubectl(kc, "create", "rolebinding", "bot-view", "--clusterrole=view",
                   "--serviceaccount=default:bot").returncode == 0
    assert kubectl(kc, "--token", token, "get", "pods").returncode == 0
    # TokenReview answers for the token, as kube-apiserver does.
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    out = subprocess.run(["kubectl", "--kubeconfig", kc, "create", "-o", "json", "-f", "-"], input=json.dumps(review),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)["status"]
    assert status["authenticated"] is True and status["user"]["username"] == "system:serviceaccount:default:bot"
    short = kubectl(kc, "create", "token", "bot", "--duration=1m")
    assert short.returncode != 0 and "may not specify a duration less than 10 minutes" in short.stderr
    # A deleted (or recreated) account's tokens stop working.
    assert kubectl(kc, "delete", "serviceaccount", "bot").returncode == 0
    assert kubectl(kc, "create", "serviceaccount", "bot").returncode == 0
    out = kubectl(kc, "--token", token, "get", "pods")
    assert out.returncode != 0 and "Unauthorized" in out.stderr
