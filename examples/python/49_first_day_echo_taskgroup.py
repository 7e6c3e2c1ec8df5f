# An echo server and a TaskGroup of ten clients (the C++ twin: examples/49_first_day_echo_taskgroup.cpp).
import asyncio


async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(line)
    writer.close()


async def client(port, i):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"hello {i}\n".encode())
    reply = await reader.readline()
    writer.close()
    return reply.decode()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(client(port, i)) for i in range(10)]
    print("".join(t.result() for t in tasks), end="")
    server.close()
    await server.wait_closed()


asyncio.run(main())
