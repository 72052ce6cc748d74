#!/usr/bin/env python3
"""Copies a file out of a guest through qemu-ga, the plain way: one Unix socket, JSON lines,
base64, and nothing else from outside the standard library.

    qga_copy.py SOCKET GUEST_PATH LOCAL_PATH [--chunk BYTES]

Synchronises with guest-sync-delimited first (the agent may hold a stale reply from an earlier
client), then opens the file, reads it in chunks of --chunk bytes until the agent says eof,
writes each chunk to LOCAL_PATH, and closes the guest's handle. Prints one JSON line: bytes
copied, wall seconds, this process's CPU seconds, MiB/s. qmp-bench runs it beside its own copy.
"""

import argparse
import base64
import json
import os
import random
import socket
import sys
import time


class Agent:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        # A bytearray grows in place, and only what came since the last look is searched: a
        # reply of a 4 MiB chunk arrives in hundreds of pieces.
        self.pending = bytearray()

    def send(self, name, arguments=None):
        command = {"execute": name}
        if arguments is not None:
            command["arguments"] = arguments
        self.sock.sendall(json.dumps(command).encode() + b"\n")

    def read_line(self):
        searched = 0
        while True:
            end = self.pending.find(b"\n", searched)
            if end >= 0:
                line = bytes(self.pending[:end])
                del self.pending[:end + 1]
                return line
            searched = len(self.pending)
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the agent closed the connection")
            self.pending += data

    def synchronize(self):
        # Anything before the 0xFF the agent writes ahead of this reply belongs to someone else,
        # and so does any reply that does not carry this id.
        wanted = random.randrange(1, 1 << 53)
        self.send("guest-sync-delimited", {"id": wanted})
        while True:
            while b"\xff" not in self.pending:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("the agent closed the connection during the sync")
                self.pending += data
            del self.pending[:self.pending.index(b"\xff") + 1]
            reply = json.loads(self.read_line())
            if reply.get("return") == wanted:
                return

    def execute(self, name, arguments=None):
        self.send(name, arguments)
        reply = json.loads(self.read_line())
        if "error" in reply:
            raise RuntimeError("%s: %s" % (name, reply["error"].get("desc")))
        return reply["return"]


def main():
    parser = argparse.ArgumentParser(description="Copy a file out of a guest through qemu-ga.")
    parser.add_argument("socket")
    parser.add_argument("guest_path")
    parser.add_argument("local_path")
    parser.add_argument("--chunk", type=int, default=4 << 20)
    options = parser.parse_args()

    started = time.monotonic()
    cpu_started = time.process_time()
    agent = Agent(options.socket)
    agent.synchronize()
    handle = agent.execute("guest-file-open", {"path": options.guest_path, "mode": "r"})
    copied = 0
    try:
        with open(options.local_path, "wb") as output:
            while True:
                chunk = agent.execute("guest-file-read", {"handle": handle, "count": options.chunk})
                data = base64.b64decode(chunk["buf-b64"])
                output.write(data)
                copied += len(data)
                if chunk["eof"] or not data:
                    break
    finally:
        agent.execute("guest-file-close", {"handle": handle})
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    print(json.dumps({
        "bytes": copied,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "mib_per_s": copied / (1 << 20) / seconds if seconds > 0 else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
