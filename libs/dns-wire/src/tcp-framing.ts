// DNS over TCP framing (RFC 1035 §4.2.2): every message is preceded by its length as two bytes,
// big-endian — the same bytes as the manager tunnel's UDP framing, so the one implementation in
// @tel/tcp-wire serves both; these are its DNS names.
export { MAX_U16_FRAME as MAX_DNS_MESSAGE, U16Deframer as DnsTcpDeframer, frameU16 as frameDnsTcp } from '@tel/tcp-wire';
