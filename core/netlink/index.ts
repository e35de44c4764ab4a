/**
 * lvsagent's netlink layer (public entry point for plugins).
 *
 * - Wire format: `MessageBuilder` / `AttributeEncoder` build messages;
 *   `forEachMessage`, `decodeHeader` and `AttributeDecoder` read them
 *   (message.ts, attributes.ts); constants in constants.ts.
 * - Sockets: `NetlinkSocket` (request / streaming dump / subscribe), `SocketPool`.
 * - Generic netlink: `resolveFamily`, `genlMessage`.
 * - Namespaces: `withNetns(path, fn)`; `NetlinkSocket.open(proto, { netns })`.
 * - Errors: Errors with `code`/`errno`/`syscall`; `NetlinkDecodeError` for bad wire data.
 *
 * See docs/design/netlink.md.
 */
export * from './constants';
export { AttributeDecoder, AttributeEncoder, HOST_LE, nlaAlign } from './attributes';
export {
  decodeDoneErrno,
  decodeErrorPayload,
  decodeGenlHeader,
  decodeHeader,
  decodeNfgenHeader,
  encodeHeader,
  forEachMessage,
  MessageBuilder,
  newHeader,
  nlmsgAlign,
  setSequence,
} from './message';
export type { ErrorPayload, GenlHeader, MessageHandler, NfgenHeader, NlMsgHeader } from './message';
export { errnoError, errnoName, isErrno, NetlinkDecodeError } from './errors';
export type { NetlinkErrnoError } from './errors';
export { NetlinkSocket } from './socket';
export type {
  DumpOptions,
  DumpResult,
  MessageBatch,
  NetlinkMessage,
  OpenOptions,
  RequestOptions,
  Subscription,
  SubscriptionStats,
  SubscribeOptions,
} from './socket';
export { SocketPool } from './pool';
export { familyCache, genlMessage, getFamily, GenlFamilyCache, parseFamily, resolveFamily } from './genl';
export type { GenlFamily } from './genl';
export { netnsPath, withNetns } from './netns';
export { loadBinding } from './binding';
export type { NativeBinding, NativeHandle } from './binding';
