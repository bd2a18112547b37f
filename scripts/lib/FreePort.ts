/**
 * A TCP port free on 127.0.0.1 right now (the OS picks it), for a server the scripts or tests start.
 * Another process may take it before the caller binds it; on a test machine that is rare enough.
 */
import { createServer } from "node:net"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address()
      srv.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0))
    })
  })
