"""kafka_services.py - the embedded development broker as a test helper."""

import os
import signal
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Broker:
    def __init__(self, streamdelta, tmp_path, *args):
        self.services = tmp_path / "local.json"
        self.env = dict(os.environ, STREAMDELTA_LOCAL=str(self.services))
        self.proc = subprocess.Popen(
            [str(streamdelta), "broker", "--registry-port", "0", *args],
            stdout=subprocess.PIPE, stderr=open(tmp_path / "broker.log", "w"), text=True,
            env=self.env)
        lines = {}
        for _ in range(2):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"broker exited: {(tmp_path / 'broker.log').read_text()}")
            key, _, value = line.strip().partition("=")
            lines[key] = value
        self.bootstrap = lines["bootstrap.servers"]
        self.registry = lines["schema.registry.url"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
