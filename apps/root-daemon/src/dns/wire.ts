// DNS wire-format helpers for the workstation resolver: safe decoding, building responses that
// echo the query's EDNS OPT record (systemd-resolved downgrades servers that don't), UDP size
// limits with truncation, and the cheap header/question views the forwarders need.
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Question } from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const FLAG_QR = 0x8000;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
const FLAG_DO = 0x8000;
/** Our advertised EDNS UDP payload size (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;
const HEADER = 12;

export const rcodeNumber = (name: string | undefined): number => {
  const n = (RCODE as Record<string, number>)[name ?? ''];
  return n ?? RCODE.SERVFAIL;
};

/** Decode or return undefined: malformed input must never throw out of the server. */
export function tryDecode(buf: Buffer): DecodedPacket | undefined {
  try {
    return dnsPacket.decode(buf);
  } catch {
    return undefined;
  }
}

export function headerId(buf: Buffer): number {
  return buf.readUInt16BE(0);
}

export function isResponse(buf: Buffer): boolean {
  return (buf.readUInt16BE(2) & FLAG_QR) !== 0;
}

/** Offset just past the first question (uncompressed name + type + class), or -1 if malformed. */
export function questionEnd(buf: Buffer): number {
  let off = HEADER;
  for (let hops = 0; hops < 128; hops++) {
    if (off >= buf.length) return -1;
    const len = buf[off] as number;
    if (len === 0) return off + 1 + 4 <= buf.length ? off + 1 + 4 : -1;
    if (len & 0xc0) return -1;
    off += 1 + len;
  }
  return -1;
}

/** The OPT pseudo-record of a decoded packet, if any. */
export function findOpt(p: DecodedPacket): OptAnswer | undefined {
  return (p.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
}

export interface ResponseParts {
  rcode: number;
  answers?: Answer[];
  authorities?: Answer[];
  /** Extended rcode bits for the OPT record (BADVERS = 1). */
  extendedRcode?: number;
}

/**
 * Encode a response to `query`: same id and question, RD copied, RA set, and — when the query had
 * EDNS — an OPT record with our payload size, version 0 and the DO bit copied (RFC 6891/3225).
 * Over UDP the response is cut to the client's size (512 without EDNS) by dropping records and
 * setting TC, so the client retries over TCP.
 */
export function encodeResponse(query: DecodedPacket, parts: ResponseParts, transport: 'udp' | 'tcp'): Buffer {
  const opt = findOpt(query);
  const flags = FLAG_QR | ((query.flags ?? 0) & FLAG_RD) | FLAG_RA | (parts.rcode & 0xf);
  const additionals: Answer[] = [];
  if (opt) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: EDNS_UDP_SIZE,
      extendedRcode: parts.extendedRcode ?? 0,
      ednsVersion: 0,
      flags: (opt.flags ?? 0) & FLAG_DO,
      flag_do: (opt.flags & FLAG_DO) !== 0,
      options: [],
    });
  }
  const packet = {
    type: 'response' as const,
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals,
  };
  let buf = dnsPacket.encode(packet);
  if (transport === 'udp') {
    const limit = opt ? Math.max(512, Math.min(opt.udpPayloadSize || 512, EDNS_UDP_SIZE)) : 512;
    if (buf.length > limit) buf = dnsPacket.encode({ ...packet, flags: flags | FLAG_TC, answers: [], authorities: [] });
  }
  return buf;
}

/** A minimal error response built from the raw header alone (for input dns-packet can't decode). */
export function rawErrorResponse(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER);
  out.writeUInt16BE(headerId(query), 0);
  const qflags = query.readUInt16BE(2);
  out.writeUInt16BE(FLAG_QR | (qflags & 0x7800) | (qflags & FLAG_RD) | FLAG_RA | (rcode & 0xf), 2);
  return out;
}

/** A one-question query with RD set (what we send to the cluster DNS). */
export function encodeQuery(q: Question, id: number, edns = true): Buffer {
  const additionals: Answer[] = edns ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
  return dnsPacket.encode({ type: 'query', id, flags: FLAG_RD, questions: [q], additionals });
}
