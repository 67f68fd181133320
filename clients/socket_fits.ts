// Compiled with generated/contract.ts by clients/check.py: socket.io-client's own Socket type
// must fit the wrapper's SocketLike, so the page's wrapper stays true to the library it wraps.
import type { Socket } from "socket.io-client";

export function wrap(socket: Socket): MetaHumanClient {
  return new MetaHumanClient(socket);
}
