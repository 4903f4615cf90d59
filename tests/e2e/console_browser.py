"""A person at the web console: Debian's Chromium driven by playwright-core through
tests/peers/console_browser.mjs (its header lists the commands). Used by test_console.py and by
the demo, which approves a review in the console."""
import json
import subprocess

from harness import ROOT


class Browser:
    """tests/peers/console_browser.mjs: one JSON command per line, one JSON answer per line."""

    def __init__(self, base, shots):
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "tests" / "peers" / "console_browser.mjs"), "--base", base,
             "--shots", str(shots)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)

    def __call__(self, op, **args):
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the browser driver exited"
        return json.loads(line)

    def ok(self, op, **args):
        answer = self(op, **args)
        assert "error" not in answer, answer
        return answer

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
