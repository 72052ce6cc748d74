"""Drives a QMP server with Python's qemu.qmp, an independent client, and prints what it saw.

Usage: qemu_qmp_peer.py SOCKET_PATH

The server must offer OOB and have the commands `query-status`, `query-yank` (OOB),
`emit-test-event` (broadcasts TEST_EVENT with data {"n": 1}) and nothing named `no-such-command`.
Prints one JSON object with the observations; exits non-zero on any unexpected exception.
"""
import asyncio
import json
import sys

from qemu.qmp import ExecuteError, QMPClient


async def main(path: str) -> dict:
    seen = {}
    client = QMPClient("swift-qmp-peer")
    await asyncio.wait_for(client.connect(path), 10)
    try:
        greeting = client.greeting
        seen["version"] = greeting.QMP.version["qemu"]["major"] if greeting else None
        seen["capabilities"] = list(greeting.QMP.capabilities) if greeting else None

        seen["status"] = await asyncio.wait_for(client.execute("query-status"), 10)
        # Succeeds only if negotiation enabled OOB.
        seen["yank_oob"] = await asyncio.wait_for(client.execute("query-yank", oob=True), 10)

        await asyncio.wait_for(client.execute("emit-test-event"), 10)
        event = await asyncio.wait_for(client.events.get(), 10)
        seen["event"] = {"event": event["event"], "data": event.get("data"), "has_timestamp": "timestamp" in event}

        errors = []
        for command, arguments, oob in [
            ("no-such-command", None, False),
            ("query-status", None, True),
            ("query-status", {"unexpected": 1}, False),
        ]:
            try:
                await asyncio.wait_for(client.execute(command, arguments, oob=oob), 10)
                errors.append(None)
            except ExecuteError as error:
                errors.append({"class": error.error_class, "desc": error.error.error.desc})
        seen["errors"] = errors
        # Still connected and working after errors.
        seen["after_errors"] = await asyncio.wait_for(client.execute("query-status"), 10)
    finally:
        await client.disconnect()
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
