#!/usr/bin/python3
# tests/tools/cut-proxy.py PORTFILE UPSTREAM_PORT CUT_BYTES LOG [stall]: a TCP relay on 127.0.0.1 (its
# port written to PORTFILE) to 127.0.0.1:UPSTREAM_PORT, one request per connection, usable as a forward
# proxy (http_proxy) in front of nginx. The first response to a request for a .raw file that reaches
# CUT_BYTES bytes is cut there: the connection drops, as a flaky network would. With "stall", once the
# responses for .raw files together reach CUT_BYTES, the one at it stays open and silent instead, and
# "stalled" goes to LOG. Each request line goes to LOG.
import socket, sys, threading, time

portfile, upstream, cut, logpath = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
stall = len(sys.argv) > 5 and sys.argv[5] == "stall"
lock = threading.Lock()
state = {"cut": False, "relayed": 0}


def handle(client):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                return
            head += data
        lines = head.split(b"\r\n")
        kept = [l for l in lines[1:] if not l.lower().startswith((b"connection:", b"proxy-connection:"))]
        head = b"\r\n".join([lines[0], b"Connection: close"] + kept)
        with lock:
            with open(logpath, "a") as log:
                rng = [l.decode() for l in kept if l.lower().startswith(b"range:")]
                log.write(lines[0].decode() + " " + " ".join(rng) + "\n")
            cut_this = b".raw " in lines[0]
        up = socket.create_connection(("127.0.0.1", upstream))
        up.sendall(head)
        sent = 0
        while True:
            data = up.recv(65536)
            if not data:
                break
            if cut_this and stall:
                with lock:
                    before = state["relayed"]
                    state["relayed"] += len(data)
                if before < cut <= before + len(data):
                    client.sendall(data[: cut - before])
                    with open(logpath, "a") as log:
                        log.write("stalled\n")
                    while True:
                        time.sleep(60)
            elif cut_this and sent + len(data) >= cut:
                with lock:
                    first = not state["cut"]
                    state["cut"] = True
                if first:
                    client.sendall(data[: cut - sent])
                    client.shutdown(socket.SHUT_RDWR)
                    break
                cut_this = False
            client.sendall(data)
            sent += len(data)
        up.close()
    except OSError:
        pass
    finally:
        client.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
