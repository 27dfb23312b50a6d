"""A server on a loopback socket that answers as no real Prometheus would on demand: a byte at a time, forever, in
its headers or its body, or a small gzip answer that inflates far past any bound. Each behaviour writes raw bytes,
below any HTTP library, so the client meets them exactly as on the wire."""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TRICKLE_PAUSE = 0.05  # seconds between two bytes: well under any read timeout a test sets


def _read_request(conn: socket.socket) -> None:
    """Read until the end of the request's headers, and the body its Content-Length announces (a PUT's)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


Behaviour = Callable[[socket.socket, threading.Event], None]


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header that never ends, a byte at a time."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ")
    while not stop.is_set():
        conn.sendall(b"a")
        time.sleep(TRICKLE_PAUSE)


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """Whole headers announcing a large JSON body, then the body a byte at a time."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
    conn.sendall(b'{"status": "success", "data": {"resultType": "vector", "result": [')
    while not stop.is_set():
        conn.sendall(b" ")
        time.sleep(TRICKLE_PAUSE)


def gzip_bomb(decoded_mib: int) -> Behaviour:
    """An answer of ~1/1000 of `decoded_mib` MiB, gzip-encoded, that decodes to a JSON object `decoded_mib` MiB
    long (spaces inside it): valid all along, so only a bound on its size stops the client reading it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [compressor.compress(b'{"status": "success", "data": {"resultType": "vector", "result": [')]
    spaces = b" " * 2**20
    parts += [compressor.compress(spaces) for _ in range(decoded_mib)]
    parts.append(compressor.compress(b"]}}") + compressor.flush())
    body = b"".join(parts)

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    answer.encoded_size = len(body)  # type: ignore[attr-defined]
    return answer


@contextmanager
def hostile_server(behaviour: Behaviour) -> Iterator[str]:
    """The base URL of a server on 127.0.0.1 that reads each request and answers with `behaviour`; every
    connection it holds is closed when the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                behaviour(conn, stop)
                while not stop.is_set() and conn.recv(65536):  # keep the connection until the client closes it
                    pass
            except OSError:
                pass  # the client gave up: what the test is waiting for

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
