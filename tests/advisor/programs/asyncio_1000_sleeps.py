# An asyncio program with 1,000 waits at once (seed 002's "thousands of simultaneous waits"): it already runs an
# event loop, so the advisor must say "keep async", not "use threads".
import asyncio


async def main():
    await asyncio.gather(*(asyncio.sleep(1.0) for _ in range(1000)))


asyncio.run(main())
