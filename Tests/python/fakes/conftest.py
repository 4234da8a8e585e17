"""Starts a fake as the Swift tests do (a child process with --port-file), and stops it
with SIGTERM, checking it exits 0."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
START_TIMEOUT = 30


class FakeProcess:
    def __init__(self, script, state_dir, *options, scheme="http", ca_file=None):
        self.state_dir = str(state_dir)
        port_file = os.path.join(self.state_dir, "port")
        self.stderr_path = os.path.join(self.state_dir, "fake.log")
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), "--port-file", port_file, "--state-dir", self.state_dir,
             *options], stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(port_file):
            if self.process.poll() is not None:
                raise RuntimeError(f"{script} exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"{script} wrote no port file in {START_TIMEOUT}s:\n{self.log()}")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.ca_file = ca_file

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def admin(self, path, body=None):
        """Calls the admin API under /__fake/ (plain stdlib, independent of the SDKs)."""
        import ssl
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/__fake/" + path, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return json.loads(answer.read())

    def fault(self, **spec):
        return self.admin("faults", spec)

    def state(self):
        return self.admin("state")

    def stop(self):
        """SIGTERM must end the fake cleanly (exit 0) and promptly."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._stderr.close()
        return code


@pytest.fixture(scope="module")
def start_fake(tmp_path_factory):
    started = []

    def start(script, *options, **kwargs):
        fake = FakeProcess(script, tmp_path_factory.mktemp("fake"), *options, **kwargs)
        started.append(fake)
        return fake

    yield start
    codes = [(fake, fake.stop()) for fake in started]
    for fake, code in codes:
        assert code == 0, f"fake exited {code} on SIGTERM:\n{fake.log()}"
        assert "Traceback" not in fake.log(), fake.log()
