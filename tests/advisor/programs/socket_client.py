# A client of a local server that answers each request after 50 ms (the server runs in this process on a
# thread, standing in for a remote one): one request at a time, so the client waits on its socket.
import socket
import threading
import time

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
port = server.getsockname()[1]


def serve():
    conn, _ = server.accept()
    with conn:
        while data := conn.recv(64):
            time.sleep(0.05)
            conn.sendall(data)


threading.Thread(target=serve, daemon=True).start()
with socket.create_connection(("127.0.0.1", port)) as client:
    for i in range(20):
        client.sendall(b"request %d" % i)
        client.recv(64)
