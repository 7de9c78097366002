// The part of dns-packet (no bundled types) the sim's DNS server uses.
declare module 'dns-packet' {
  export interface Question { name: string; type: string; class?: string }
  export interface Answer { name: string; type: string; class?: string; ttl?: number; data: unknown }
  export interface Packet {
    id?: number;
    type?: 'query' | 'response';
    flags?: number;
    rcode?: string;
    questions?: Question[];
    answers?: Answer[];
    authorities?: Answer[];
    additionals?: Answer[];
  }
  export function encode(p: Packet): Buffer;
  export function decode(b: Buffer): Packet;
  export function streamEncode(p: Packet): Buffer;
  export function streamDecode(b: Buffer): Packet;
  export const AUTHORITATIVE_ANSWER: number;
  export const RECURSION_DESIRED: number;
  export const RECURSION_AVAILABLE: number;
  const _default: {
    encode: typeof encode; decode: typeof decode; streamEncode: typeof streamEncode; streamDecode: typeof streamDecode;
    AUTHORITATIVE_ANSWER: number; RECURSION_DESIRED: number; RECURSION_AVAILABLE: number;
  };
  export default _default;
}
