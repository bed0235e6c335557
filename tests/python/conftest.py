"""Black-box fixtures: start the real keks binary on a temporary data dir with free ports,
create a development cluster with `keks dev cluster`, and hand tests its kubeconfig."""

import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def keks_binary():
    path = os.environ.get("KEKS_BIN", str(REPO / "target" / "debug" / "keks"))
    if not os.path.exists(path):
        pytest.fail(f"keks binary not found at {path}; build it with `cargo build -p keks` (scripts/test does)")
    return path


def read_env(data_dir):
    env = {}
    for line in (pathlib.Path(data_dir) / "env.sh").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = value.strip("'")
    return env


class Keks:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.process = None
        self.env = {}

    def start(self):
        env_file = pathlib.Path(self.data_dir) / "env.sh"
        if env_file.exists():
            env_file.unlink()
        self.process = subprocess.Popen(
            [keks_binary(), "up", "--data-dir", self.data_dir, "--aws-port", "0", "--kube-port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while not env_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError("keks up exited: " + self.process.stderr.read().decode())
            if time.monotonic() > deadline:
                raise RuntimeError("keks up wrote no env.sh within 15 s")
            time.sleep(0.05)
        self.env = read_env(self.data_dir)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)

    def dev_cluster(self, name):
        kubeconfig = os.path.join(self.data_dir, f"{name}.kubeconfig")
        subprocess.run(
            [keks_binary(), "dev", "cluster", name, "--kubeconfig", kubeconfig, "--data-dir", self.data_dir],
            check=True,
            capture_output=True,
        )
        return kubeconfig


@pytest.fixture
def keks():
    with tempfile.TemporaryDirectory() as data_dir:
        k = Keks(data_dir)
        k.start()
        try:
            yield k
        finally:
            k.stop()


@pytest.fixture
def api_client(keks):
    from kubernetes import client, config

    kubeconfig = keks.dev_cluster("py")
    return config.new_client_from_config(config_file=kubeconfig)
