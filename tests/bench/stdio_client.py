"""Plays the plugin daemon's local runtime against a plugin process over stdio, to compare our
wasm host with Dify's Python SDK side by side with the same client.

usage: stdio_client.py NAME -- COMMAND... (run in the plugin's directory with INSTALL_METHOD=local)

Waits for the first heartbeat (the daemon's readiness signal), then measures one `invoke_tool`
of `showcase`/`echo` at a time (request written to `end` read; p50/p99 of 2500 after 500
warm-up) and the invocations per second with 64 sessions in flight for 3 s. The client is the
same Python for both plugins, so its own cost is in both figures.
"""

import json
import os
import subprocess
import sys
import time


def request(i):
    return json.dumps({
        "session_id": f"s{i}", "conversation_id": None, "message_id": None, "app_id": None,
        "endpoint_id": None, "context": None, "event": "request",
        "data": {"action": "invoke_tool", "credentials": {}, "provider": "showcase",
                 "tool": "echo", "tool_parameters": {"text": "hi"}, "type": "tool",
                 "user_id": "u"},
    }).encode() + b"\n"


class Plugin:
    def __init__(self, command):
        env = dict(os.environ, INSTALL_METHOD="local")
        start = time.perf_counter()
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, bufsize=0)
        self.buf = b""
        while not any(b'"heartbeat"' in line for line in self.lines()):
            pass
        self.ready_ms = (time.perf_counter() - start) * 1e3

    def lines(self):
        chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
        if not chunk:
            raise SystemExit("the plugin closed stdout")
        self.buf += chunk
        *done, self.buf = self.buf.split(b"\n")
        return [line for line in done if line.strip()]

    def send(self, data):
        self.proc.stdin.write(data)

    def close(self):
        # The Python SDK does not end when stdin closes (it waits to be orphaned): stop it.
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    name, command = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    plugin = Plugin(command)
    latencies = []
    for i in range(3000):
        start = time.perf_counter()
        plugin.send(request(i))
        end = f'"session_id":"s{i}","data":{{"type":"end"'.encode()
        while not any(end in line for line in plugin.lines()):
            pass
        latencies.append(time.perf_counter() - start)
    latencies = sorted(latencies[500:])
    p50 = latencies[len(latencies) // 2] * 1e6
    p99 = latencies[int(len(latencies) * 0.99)] * 1e6
    sent = 3000
    plugin.send(b"".join(request(sent + i) for i in range(64)))
    sent += 64
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 3:
        ends = sum(1 for line in plugin.lines() if b'"data":{"type":"end"' in line)
        done += ends
        if ends:
            plugin.send(b"".join(request(sent + i) for i in range(ends)))
            sent += ends
    rate = done / (time.perf_counter() - start)
    plugin.close()
    print(f"{name}: ready {plugin.ready_ms:.0f} ms, echo p50 {p50:.0f} us, p99 {p99:.0f} us, "
          f"64 in flight {rate:.0f} invocations/s")


if __name__ == "__main__":
    main()
