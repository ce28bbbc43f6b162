"""How SO_REUSEPORT alone would split keep-alive connections between serving processes.

    .venv/bin/python scripts/bench/reuseport_split.py --workers 2 --clients 4 --trials 500

One listening socket per process on the same port with SO_REUSEPORT (Linux): the kernel picks
a socket by a hash of each connection's addresses and ports, whatever each process already
holds. Opens ``--clients`` connections ``--trials`` times and prints how often each split
(connections per socket, most loaded first) came out.
"""

from __future__ import annotations

import argparse
import socket
from collections import Counter


def one_trial(port: int, listeners: list[socket.socket], clients: int) -> tuple[int, ...]:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
    split = []
    for listener in listeners:
        taken = 0
        while True:
            try:
                listener.accept()[0].close()
                taken += 1
            except BlockingIOError:
                break
        split.append(taken)
    for conn in conns:
        conn.close()
    return tuple(sorted(split, reverse=True))


def main(args: argparse.Namespace) -> None:
    listeners = []
    port = 0
    for _ in range(args.workers):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.settimeout(0.5)  # the first accept waits for the handshake; then non-blocking
        port = sock.getsockname()[1]
        listeners.append(sock)
    for sock in listeners:
        sock.setblocking(False)
    splits = Counter(one_trial(port, listeners, args.clients) for _ in range(args.trials))
    for split, count in splits.most_common():
        print(f"{list(split)}: {count} of {args.trials} ({100 * count / args.trials:.0f} %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--trials", type=int, default=500)
    main(parser.parse_args())
