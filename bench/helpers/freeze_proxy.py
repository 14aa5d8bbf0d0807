"""A TCP proxy that stops answering: once the file FROZEN exists it forwards
nothing more and accepts new connections without serving them, as a hung
server or a black-holing network does. Used by bench/stop_budget.sh.

    python3 freeze_proxy.py LISTEN_PORT UPSTREAM_PORT FROZEN_FILE
"""
import os
import socket
import sys
import threading
import time

LISTEN, UPSTREAM, FROZEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def pump(src, dst):
    while True:
        try:
            data = src.recv(16384)
        except OSError:
            return
        if not data:
            return
        while os.path.exists(FROZEN):
            time.sleep(3600)
        dst.sendall(data)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", LISTEN))
listener.listen(16)
held = []
while True:
    client, _ = listener.accept()
    if os.path.exists(FROZEN):
        held.append(client)
        continue
    server = socket.create_connection(("127.0.0.1", UPSTREAM))
    threading.Thread(target=pump, args=(client, server), daemon=True).start()
    threading.Thread(target=pump, args=(server, client), daemon=True).start()
