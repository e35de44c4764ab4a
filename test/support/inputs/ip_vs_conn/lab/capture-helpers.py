"""Fixture-capture helpers run in the UML guest (Node has neither SCTP nor SO_MARK).

  python3 capture-helpers.py sctp-server ADDR PORT
  python3 capture-helpers.py sctp-client HOST PORT COUNT HOLD   (the first HOLD associations stay open)
  python3 capture-helpers.py mark-get HOST PORT MARK COUNT      (HTTP/1.0 GETs with SO_MARK = MARK)
"""
import socket, sys, time

SO_MARK = 36

def family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET

cmd = sys.argv[1]
if cmd == 'sctp-server':
    host, port = sys.argv[2], int(sys.argv[3])
    s = socket.socket(family(host), socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(16)
    print('ready', flush=True)
    held = []
    while True:
        c, _ = s.accept()
        d = c.recv(100)
        c.send(d)
        held.append(c)
        if d == b'bye':
            c.close()
elif cmd == 'sctp-client':
    host, port, n, hold = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    keep = []
    for i in range(n):
        c = socket.socket(family(host), socket.SOCK_STREAM, socket.IPPROTO_SCTP)
        c.settimeout(3)
        c.connect((host, port))
        c.send(b'hold' if i < hold else b'bye')
        c.recv(100)
        if i < hold: keep.append(c)
        else: c.close()
    print('ready', flush=True)
    while True: time.sleep(60)
elif cmd == 'mark-get':
    host, port, mark, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    for i in range(n):
        c = socket.socket(family(host), socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
        c.settimeout(3)
        c.connect((host, port))
        c.send(b'GET / HTTP/1.0\r\n\r\n')
        body = b''
        while True:
            d = c.recv(1000)
            if not d: break
            body += d
        print(body.split(b'\r\n\r\n')[-1].decode().strip(), flush=True)
        c.close()
