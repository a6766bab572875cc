"""An SMTP server for the benchmark: accepts every message after a fixed delay (a slow
mail provider), many conversations at once, and appends `{"to": …, "t": …}` per message to
a JSON-lines file. Standard library only."""

import asyncio
import json
import sys
import time


async def session(reader, writer, delay, out):
    writer.write(b"220 bench-sink ESMTP\r\n")
    await writer.drain()
    rcpt = []
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        elif verb == b"MAIL":
            rcpt = []
            writer.write(b"250 OK\r\n")
        elif verb == b"RCPT":
            rcpt.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
            writer.write(b"250 OK\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            while True:
                data = await reader.readline()
                if not data or data in (b".\r\n", b".\n"):
                    break
            await asyncio.sleep(delay)
            now = time.time()
            for to in rcpt:
                out.write(json.dumps({"to": to, "t": now}) + "\n")
            out.flush()
            writer.write(b"250 queued\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
    writer.close()


async def main():
    port, delay_ms, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with open(path, "a", encoding="utf-8") as out:
        server = await asyncio.start_server(
            lambda r, w: session(r, w, delay_ms / 1000.0, out), "127.0.0.1", port
        )
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
