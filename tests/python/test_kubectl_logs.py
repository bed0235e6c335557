"""`kubectl logs` against keks' simulated containers: kubelet's answers for waiting or
unknown containers, and the synthetic log of a started one."""

import json
import subprocess


def kubectl(kc, *args, stdin=None):
    return subprocess.run(["kubectl", "--kubeconfig", kc, *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_logs_of_waiting_and_started_containers(keks):
    kc = keks.dev_cluster("logs")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"schedulerName": "nobody", "containers": [{"name": "app", "image": "nginx:1.27"},
                                                              {"name": "side", "image": "busybox"}]}}
    assert kubectl(kc, "apply", "-f", "-", stdin=json.dumps(pod)).returncode == 0
    out = kubectl(kc, "logs", "web", "-c", "app")
    assert out.returncode != 0 and 'container "app" in pod "web" is waiting to start: ContainerCreating' in out.stderr
    out = kubectl(kc, "logs", "web", "-c", "nope")
    assert "container nope is not valid for pod web" in out.stderr
    status = {"status": {"phase": "Running", "containerStatuses": [
        {"name": "app", "image": "nginx:1.27", "imageID": "", "ready": True, "restartCount": 0,
         "state": {"running": {"startedAt": "2026-11-23T10:00:00Z"}}}]}}
    out = kubectl(kc, "patch", "pod", "web", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert out.returncode == 0, out.stderr
    out = kubectl(kc, "logs", "web", "-c", "app", "--timestamps")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("2026-11-23T10:00:00.000000000Z keks: simulated container app started from image nginx:1.27")
    assert len(kubectl(kc, "logs", "web", "-c", "app", "--tail=1").stdout.splitlines()) == 1
